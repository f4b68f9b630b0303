#include "core/parallel/ddp/ddp.h"

#include <ATen/ATen.h>

#include "core/layers/recompute_scope.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {
std::vector<at::Tensor> trained(torch::nn::Module& module) {
  std::vector<at::Tensor> out;
  for (auto& p : module.parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}
}  // namespace

DistributedDataParallel::DistributedDataParallel(torch::nn::Module& module, Communicator& comm, DdpOptions options)
    : DistributedDataParallel(trained(module), comm, options) {}

DistributedDataParallel::DistributedDataParallel(std::vector<at::Tensor> params, Communicator& comm, DdpOptions options)
    : comm_(comm), scale_(options.scale), params_(std::move(params)) {
  // Buckets in reverse registration order, split by size and dtype.
  int64_t cap = options.first_bucket_bytes, used = 0;
  std::vector<std::size_t> current;
  at::ScalarType dtype = params_.empty() ? at::kFloat : params_.back().scalar_type();
  auto close = [&] {
    if (current.empty()) return;
    int64_t n = 0;
    for (std::size_t i : current) n += params_[i].numel();
    Bucket b;
    b.flat = at::zeros({n}, params_[current[0]].options().requires_grad(false));
    b.params = current;
    buckets_.push_back(std::move(b));
    current.clear();
    used = 0;
    cap = options.bucket_bytes;
  };
  bucket_of_.resize(params_.size());
  for (std::size_t k = params_.size(); k-- > 0;) {
    const at::Tensor& p = params_[k];
    if (!current.empty() && (used + static_cast<int64_t>(p.nbytes()) > cap || p.scalar_type() != dtype)) close();
    dtype = p.scalar_type();
    current.push_back(k);
    used += static_cast<int64_t>(p.nbytes());
  }
  close();
  views_.resize(params_.size());
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    int64_t offset = 0;
    for (std::size_t i : buckets_[b].params) {
      bucket_of_[i] = b;
      views_[i] = buckets_[b].flat.narrow(0, offset, params_[i].numel()).view(params_[i].sizes());
      offset += params_[i].numel();
    }
  }
  expected_.assign(params_.size(), 0);
  seen_.assign(params_.size(), 0);
  for (std::size_t i = 0; i < params_.size(); ++i)
    params_[i].register_hook([this, i](const at::Tensor& g) { on_grad(i, g); });
}

DistributedDataParallel::~DistributedDataParallel() {
  for (auto& b : buckets_)
    if (b.work) b.work->settle();
}

void DistributedDataParallel::broadcast_parameters() {
  at::NoGradGuard no_grad;
  for (auto& p : params_) comm_.broadcast(p.data(), 0)->wait();
}

void DistributedDataParallel::zero_grads() {
  for (auto& p : params_) p.mutable_grad() = at::Tensor();
}

void DistributedDataParallel::prepare_backward(bool sync) {
  sync_ = sync;
  if (!sync) return;
  std::fill(seen_.begin(), seen_.end(), 0);
  next_launch_ = 0;
  for (auto& b : buckets_) {
    b.flat.zero_();
    b.launched = false;
    b.work.reset();
    b.pending = 0;
    for (std::size_t i : b.params) b.pending += expected_[i] > 0 ? 1 : 0;
  }
}

void DistributedDataParallel::on_grad(std::size_t i, const at::Tensor& grad) {
  // Inside an activation-checkpointing recompute: the outer graph delivers this again.
  if (!sync_ || in_recompute()) return;
  at::NoGradGuard no_grad;
  at::Tensor& view = views_[i];
  if (seen_[i] == 0) {
    view.copy_(grad);
    // Earlier micro-steps of this step; not the bucket view itself, left from the last step
    // when .grad was not cleared (the bucket was zeroed since).
    const at::Tensor& accumulated = params_[i].grad();
    if (accumulated.defined() && accumulated.data_ptr() != view.data_ptr()) view.add_(accumulated);
  } else {
    view.add_(grad);
  }
  ++seen_[i];
  if (discovered_) {
    DT_CHECK(seen_[i] <= expected_[i],
             "DDP: a parameter received {} gradients in one backward, {} in the first; the graph must not change "
             "between steps",
             seen_[i], expected_[i]);
    if (seen_[i] == expected_[i] && --buckets_[bucket_of_[i]].pending == 0) launch_ready_buckets();
  }
}

void DistributedDataParallel::launch_ready_buckets() {
  // In bucket order only, so that every rank issues the same sequence of all_reduces.
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    Bucket& b = buckets_[next_launch_++];
    b.work = comm_.all_reduce(b.flat, ReduceOp::kAvg);
    b.launched = true;
  }
}

void DistributedDataParallel::finish_backward() {
  if (!sync_) return;
  if (!discovered_) {
    expected_ = seen_;
    discovered_ = true;
    for (auto& b : buckets_) b.pending = 0;
  }
  launch_ready_buckets();  // the first backward's, and any bucket whose parameters got no gradient
  DT_CHECK(next_launch_ == buckets_.size(), "DDP: {} of {} buckets never became ready", buckets_.size() - next_launch_,
           buckets_.size());
  at::NoGradGuard no_grad;
  for (auto& b : buckets_) {
    b.work->wait();
    if (scale_ != 1.0) b.flat.mul_(scale_);
  }
  // The averaged gradients stay in the buckets: .grad becomes the parameter's bucket view
  // (no copy). The caller clears .grad (sets it undefined) before the next step.
  for (std::size_t i = 0; i < params_.size(); ++i) params_[i].mutable_grad() = views_[i];
  sync_ = false;
}

}  // namespace dtbench
