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
    ddp_.push_back(std::make_unique<DistributedDataParallel>(*model, *grid.dp_comm));
  }
}

void MegatronGradReducer::zero_grads() {
  for (auto& d : ddp_) d->zero_grads();
}

void MegatronGradReducer::before_backward(bool last) {
  last_ = last;
  ddp_[0]->prepare_backward(last);
}

void MegatronGradReducer::after_backward() {
  ddp_[0]->finish_backward();
  if (last_) sum_partial_grads();
}

void MegatronGradReducer::before_chunk_backward(int64_t chunk, bool last) {
  ddp_[static_cast<std::size_t>(chunk)]->prepare_backward(last);
}

void MegatronGradReducer::finish_step() {
  for (auto& d : ddp_) d->finish_backward();
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
