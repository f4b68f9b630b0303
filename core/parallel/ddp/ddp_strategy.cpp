#include "core/parallel/ddp/ddp_strategy.h"

#include "core/model/mlp_classifier.h"

namespace dtbench {

void DdpReducer::after_backward() {
  waits_.time([&] { ddp_.finish_backward(); });  // only the buckets still in flight are waited for
}

ParallelLayout DdpStrategy::layout(const RunShape& shape, int world_size) const {
  return {.dp = world_size,
          .micro_batch = shape.micro_batch,
          .seq = shape.seq,
          .activation_checkpointing = shape.activation_checkpointing,
          .bf16 = shape.bf16,
          .accumulation = shape.global_batch / (shape.micro_batch * world_size)};
}

ParallelRun DdpStrategy::wrap(torch::nn::Module& module, TransformerImpl* lm, const WrapContext& ctx) {
  if (lm)
    initialize_parameters(*lm, ctx.seed);
  else
    initialize_parameters(dynamic_cast<MlpClassifierImpl&>(module), ctx.seed);
  Communicator& comm = *ctx.world.comm;
  std::vector<TrainTensor> tensors;
  for (auto& item : module.named_parameters())
    tensors.push_back({item.key(), item.value(), item.value().sizes().vec(), 0, comm.rank() == 0});
  auto reducer = std::make_unique<DdpReducer>(module, comm);
  reducer->ddp().broadcast_parameters();
  ParallelRun run;
  run.reducer = std::move(reducer);
  run.shard = std::make_unique<LocalParameters>(std::move(tensors), nullptr);  // whole gradients everywhere
  run.data = {comm.rank(), nullptr};
  return run;
}

}  // namespace dtbench
