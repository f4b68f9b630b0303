#include "core/parallel/megatron/distributed_optimizer.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/report/errors.h"

namespace dtbench {

DistributedOptimizer::DistributedOptimizer(const std::vector<TrainTensor>& whole, Communicator& dp,
                                           Communicator* norm_comm)
    : dp_(dp), norm_comm_(norm_comm) {
  DT_CHECK(!whole.empty(), "the distributed optimizer needs at least one parameter");
  int64_t total = 0;
  for (const TrainTensor& t : whole) {
    params_.push_back(t.value);
    total += t.value.numel();
  }
  const int64_t n = dp.size();
  shard_ = (total + n - 1) / n;
  const int64_t lo = dp.rank() * shard_, hi = lo + shard_;
  int64_t offset = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    const int64_t numel = params_[i].numel();
    const int64_t a = std::max(lo, offset), b = std::min(hi, offset + numel);
    if (a < b) {
      ranges_.push_back({i, a - offset, b - a, a});
      TrainTensor t = whole[i];
      t.value = params_[i].view({-1}).narrow(0, a - offset, b - a);
      t.start += a - offset;  // within the rows, or the block of columns, this rank holds
      owned_.push_back(t);
    }
    offset += numel;
  }
}

std::vector<at::Tensor> DistributedOptimizer::grads() {
  std::vector<at::Tensor> g;
  for (const Range& r : ranges_) {
    const at::Tensor& grad = params_[r.param].grad();
    g.push_back(grad.defined() ? grad.view({-1}).narrow(0, r.start, r.count) : at::Tensor());
  }
  return g;
}

void DistributedOptimizer::after_update() {
  at::NoGradGuard no_grad;
  at::Tensor mine = at::zeros({shard_}, params_.front().options());
  for (std::size_t k = 0; k < ranges_.size(); ++k) {
    const Range& r = ranges_[k];
    mine.narrow(0, r.flat - dp_.rank() * shard_, r.count).copy_(owned_[k].value);
  }
  at::Tensor all = at::empty({shard_ * dp_.size()}, mine.options());
  dp_.all_gather(mine, all)->wait();
  int64_t offset = 0;
  for (auto& p : params_) {
    p.view({-1}).copy_(all.narrow(0, offset, p.numel()));
    offset += p.numel();
  }
}

}  // namespace dtbench
