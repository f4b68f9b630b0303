#include "core/parallel/fsdp/fsdp_strategy.h"

#include "core/layers/parameters.h"
#include "core/model/plan.h"
#include "core/report/errors.h"

namespace dtbench {

FsdpShards::FsdpShards(FullyShardedDataParallel& fsdp) : fsdp_(fsdp) {
  for (const auto& s : fsdp_.slices()) {
    tensors_.push_back({s.name, s.value, s.shape, s.start, fsdp_.checkpoint_writer()});
    grads_.push_back(s.grad);
  }
}

FsdpStrategy::FsdpStrategy(const FsdpSettings& settings, int world_size) : ep_(settings.ep) {
  opt_.reshard_after_forward = settings.reshard_after_forward;
  opt_.prefetch = settings.prefetch;
  opt_.shard_size = settings.shard_size;
  DT_USAGE(opt_.shard_size >= 0 && (opt_.shard_size == 0 || world_size % opt_.shard_size == 0),
           "--hsdp-shard-size {}: must divide the world size {} (e.g. the ranks per node)", opt_.shard_size,
           world_size);
  DT_USAGE(ep_ >= 1 && world_size % ep_ == 0,
           "--ep {}: must divide the world size {} (the data-parallel ranks: expert groups are made of them)", ep_,
           world_size);
  DT_USAGE(ep_ == 1 || opt_.shard_size == 0, "--ep {} with --hsdp-shard-size {}: not supported; drop one of them", ep_,
           opt_.shard_size);
}

void FsdpStrategy::check(const RunShape& shape, int) {
  opt_.activation_checkpointing = shape.activation_checkpointing;
  opt_.compute_dtype = shape.bf16 ? at::kBFloat16 : at::kFloat;
  validate_expert_parallel(shape.model, ep_);
}

ParallelLayout FsdpStrategy::layout(const RunShape& shape, int world_size) const {
  // Memory is sharded over the shard group; the data is split over the whole world.
  return {.dp = world_size,
          .ep = ep_,
          .shard_params = true,
          .micro_batch = shape.micro_batch,
          .seq = shape.seq,
          .activation_checkpointing = shape.activation_checkpointing,
          .bf16 = shape.bf16,
          .shard_group = opt_.shard_size == world_size ? 0 : opt_.shard_size,
          .accumulation = shape.global_batch / (shape.micro_batch * world_size)};
}

Transformer FsdpStrategy::make_model(const ModelConfig& config, World& world) {
  ExpertParallel ep;
  if (ep_ > 1) {
    // Groups of ep consecutive ranks (inside a node) split the experts; the ranks at the same
    // place in every group hold the same experts, and shard them.
    Communicator& w = *world.comm;
    ep_comm_ = w.split(static_cast<int>(w.rank() / ep_), w.rank(), "ep");
    expert_comm_ = w.split(static_cast<int>(w.rank() % ep_), w.rank(), "expert-shard");
    ep.comm = ep_comm_.get();
  }
  const MetaParameters meta;
  return Transformer(config, TensorParallel{}, ModelPart{}, ep);
}

ParallelRun FsdpStrategy::wrap(torch::nn::Module&, TransformerImpl* lm, const WrapContext& ctx) {
  const ModelConfig config = lm->config();
  const uint64_t seed = ctx.seed;
  opt_.device = ctx.device;
  opt_.expert_comm = expert_comm_.get();
  opt_.expert_grad_scale = 1.0 / static_cast<double>(ep_);
  auto fsdp = std::make_unique<FullyShardedDataParallel>(
      *lm, lm->runner_units(), *ctx.world.comm, opt_,
      [config, seed](const std::string& name, const at::Tensor& values, int64_t start) {
        initialize_parameter_slice(config, seed, name, values, start);
      });
  lm->activation_checkpointing = false;  // FSDP recomputes its units itself
  lm->block_runner = fsdp.get();
  auto reducer = std::make_unique<FsdpReducer>(std::move(fsdp));
  ParallelRun run;
  run.shard = std::make_unique<FsdpShards>(reducer->fsdp());
  run.reducer = std::move(reducer);
  run.data = {ctx.world.comm->rank(), nullptr};
  return run;
}

nlohmann::json FsdpStrategy::describe() const {
  return {{"name", "fsdp"},
          {"reshard_after_forward", opt_.reshard_after_forward},
          {"prefetch", opt_.prefetch},
          {"activation_checkpointing", opt_.activation_checkpointing},
          {"hsdp_shard_size", opt_.shard_size},
          {"ep", ep_},
          {"compute_dtype", opt_.compute_dtype == at::kBFloat16 ? "bf16" : "fp32"}};
}

}  // namespace dtbench
