#include "core/parallel/megatron/grad_reducer.h"

#include <ATen/ATen.h>

namespace dtbench {

MegatronGradReducer::MegatronGradReducer(const std::vector<TransformerImpl*>& chunks, ProcessGrid& grid,
                                         bool sequence_parallel)
    : grid_(grid) {
  for (TransformerImpl* model : chunks) {
    for (auto& item : model->named_parameters()) {
      const Sharding& s = model->shardings().at(item.key());
      if (s.dim < 0 && sequence_parallel && grid.tp > 1) tp_summed_.push_back(item.value());
      if (grid.pp > 1 && model->config().tied_embeddings && item.key() == "embed.weight") embed_ = item.value();
    }
    ddp_.emplace_back();
    if (grid.ep == 1) {
      ddp_.back().push_back(std::make_unique<DistributedDataParallel>(*model, *grid.dp_comm));
      continue;
    }
    std::vector<at::Tensor> dense, experts;
    for (auto& item : model->named_parameters())
      (is_expert_parameter(item.key()) ? experts : dense).push_back(item.value());
    ddp_.back().push_back(std::make_unique<DistributedDataParallel>(dense, *grid.dp_comm));
    // An expert's gradient holds the tokens of its whole expert group already: summed over
    // its replicas and divided by dp, it is the average over every replica's tokens.
    DdpOptions options;
    options.scale = 1.0 / static_cast<double>(grid.ep);
    ddp_.back().push_back(std::make_unique<DistributedDataParallel>(experts, *grid.expert_dp_comm, options));
  }
}

void MegatronGradReducer::zero_grads() {
  for (auto& chunk : ddp_)
    for (auto& d : chunk) d->zero_grads();
}

void MegatronGradReducer::before_backward(bool last) {
  last_ = last;
  for (auto& d : ddp_[0]) d->prepare_backward(last);
}

void MegatronGradReducer::after_backward() {
  for (auto& d : ddp_[0]) d->finish_backward();
  if (last_) sum_partial_grads();
}

void MegatronGradReducer::before_chunk_backward(int64_t chunk, bool last) {
  for (auto& d : ddp_[static_cast<std::size_t>(chunk)]) d->prepare_backward(last);
}

void MegatronGradReducer::finish_step() {
  for (auto& chunk : ddp_)
    for (auto& d : chunk) d->finish_backward();
  sum_partial_grads();
}

void MegatronGradReducer::sum_partial_grads() {
  at::NoGradGuard no_grad;
  for (at::Tensor& p : tp_summed_)
    if (p.grad().defined()) grid_.tp_comm->all_reduce(p.mutable_grad(), ReduceOp::kSum)->wait();
  if (embed_ && grid_.embed_comm) {
    at::Tensor& g = embed_->mutable_grad();
    if (!g.defined()) g = at::zeros_like(*embed_);
    grid_.embed_comm->all_reduce(g, ReduceOp::kSum)->wait();
  }
}

}  // namespace dtbench
