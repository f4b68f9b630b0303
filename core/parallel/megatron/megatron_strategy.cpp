#include "core/parallel/megatron/megatron_strategy.h"

#include <algorithm>
#include <numeric>

#include "core/parallel/megatron/distributed_optimizer.h"
#include "core/parallel/megatron/grad_reducer.h"
#include "core/parallel/pipeline/pipeline_driver.h"
#include "core/model/plan.h"
#include "core/report/errors.h"
#include "core/report/numbers.h"

namespace dtbench {

std::vector<TrainTensor> megatron_tensors(const std::vector<TransformerImpl*>& chunks, const ProcessGrid& grid) {
  std::vector<TrainTensor> tensors;
  for (TransformerImpl* model : chunks) {
    const bool tied_copy = grid.pp > 1 && model->config().tied_embeddings && !model->part().first;
    for (auto& item : model->named_parameters()) {
      const Sharding& s = model->shardings().at(item.key());
      // Checkpoints hold the whole parameter: this rank's block is a range of its rows (dim
      // 0) or a block of its columns (dim 1, row-parallel weights).
      TrainTensor t{model->global_name(item.key()), item.value(), s.shape, 0};
      if (s.dim == 0) t.start = s.offset * (item.value().numel() / std::max<int64_t>(1, item.value().size(0)));
      if (s.dim == 1) t.block = {s.shape[1], s.offset, item.value().size(1)};
      // Counted once in the norm over tp x pp (x ep): a split parameter by every holder, a
      // replicated one by tp rank 0 (and, under expert parallelism, ep rank 0 unless an expert's).
      const bool expert = is_expert_parameter(item.key());
      t.in_norm = (s.dim >= 0 || grid.tp_rank == 0) && (expert || grid.ep_rank == 0) &&
                  !(tied_copy && item.key() == "embed.weight");
      t.writer = t.in_norm;
      tensors.push_back(t);
    }
  }
  return tensors;
}

MegatronStrategy::MegatronStrategy(const MegatronSettings& settings, int world_size) : s_(settings) {
  DT_USAGE(s_.tp >= 1 && s_.pp >= 1, "--tp {} --pp {}: sizes are at least 1", s_.tp, s_.pp);
  checked_product("--tp x --pp (ranks of one model replica)", {s_.tp, s_.pp}, world_size);
  DT_USAGE(world_size % (s_.tp * s_.pp) == 0, "--tp {} x --pp {} = {} does not divide the world size {}", s_.tp, s_.pp,
           s_.tp * s_.pp, world_size);
  DT_USAGE(s_.vp >= 1, "--vp {}: at least 1", s_.vp);
  DT_USAGE(s_.vp == 1 || s_.pp > 1, "--vp {}: virtual stages interleave a pipeline; give --pp 2 or more", s_.vp);
  DT_USAGE(s_.vp == 1 || s_.pp_layers.empty(), "--vp with --pp-layers: the interleaved schedule splits evenly");
  DT_USAGE(s_.ep >= 1, "--ep {}: at least 1", s_.ep);
  DT_USAGE(data_parallel_size(world_size) % s_.ep == 0,
           "--ep {}: must divide the data-parallel size {} (world {} / (--tp {} x --pp {})); expert groups are made "
           "of replicas",
           s_.ep, data_parallel_size(world_size), world_size, s_.tp, s_.pp);
  DT_USAGE(s_.ep == 1 || !s_.distributed_optimizer,
           "--ep {} with --distributed-optimizer: not supported; drop one of them", s_.ep);
  DT_USAGE(!s_.sequence_parallel || s_.tp > 1,
           "--sp needs --tp of 2 or more (it splits the sequence over the tensor-parallel group)");
}

void MegatronStrategy::check(const RunShape& a, int world_size) {
  shape_ = a;
  const ModelConfig& c = a.model;
  const int64_t tp = s_.tp, pp = s_.pp, vp = s_.vp;
  DT_USAGE(c.heads % tp == 0 && c.kv_heads % tp == 0, "--tp {}: must divide the heads ({}) and the kv-heads ({}) of {}",
           tp, c.heads, c.kv_heads, c.name);
  DT_USAGE(c.ffn % tp == 0, "--tp {}: must divide the MLP width {} of {}", tp, c.ffn, c.name);
  validate_expert_parallel(c, s_.ep);
  DT_USAGE(!s_.sequence_parallel || a.seq % tp == 0, "--sp: the sequence {} must divide by --tp {}", a.seq, tp);
  DT_USAGE(pp <= c.layers, "--pp {}: more stages than the {} layers of {}", pp, c.layers, c.name);
  DT_USAGE(vp == 1 || c.layers % (pp * vp) == 0,
           "--vp {}: the {} layers do not split into --pp {} x --vp {} = {} equal virtual stages", vp, c.layers, pp, vp,
           pp * vp);
  const int64_t micro = a.global_batch / (a.micro_batch * data_parallel_size(world_size));
  DT_USAGE(vp == 1 || micro % pp == 0,
           "--vp {}: the interleaved schedule needs the micro-batches per step ({} = global batch / micro-batch / "
           "dp) to be a multiple of --pp {}",
           vp, micro, pp);
  layers_ = s_.pp_layers;
  if (layers_.empty())  // as even as possible: the first stages take the rest
    for (int64_t s = 0; s < pp; ++s) layers_.push_back(c.layers / pp + (s < c.layers % pp ? 1 : 0));
  const int64_t total = std::accumulate(layers_.begin(), layers_.end(), int64_t{0});
  DT_USAGE(static_cast<int64_t>(layers_.size()) == pp && total == c.layers &&
               std::all_of(layers_.begin(), layers_.end(), [](int64_t l) { return l >= 1; }),
           "--pp-layers: needs {} counts of at least 1 that add up to the {} layers", pp, c.layers);
}

ParallelLayout MegatronStrategy::layout(const RunShape& a, int world_size) const {
  return {.dp = data_parallel_size(world_size),
          .tp = s_.tp,
          .pp = s_.pp,
          .ep = s_.ep,
          .micro_batch = a.micro_batch,
          .seq = a.seq,
          .activation_checkpointing = a.activation_checkpointing,
          .bf16 = a.bf16,
          .sp = s_.sequence_parallel,
          .vp = s_.vp,
          .accumulation = a.global_batch / (a.micro_batch * data_parallel_size(world_size))};
}

Transformer MegatronStrategy::make_model(const ModelConfig& config, World& world) {
  DT_USAGE(s_.pp == 1 || world.backend != "store",
           "--pp {}: pipeline stages exchange activations point to point, which the store backend cannot; start "
           "the ranks with mpirun (or srun --mpi=pmix)",
           s_.pp);
  grid_ = make_process_grid(*world.comm, s_.tp, s_.pp, s_.ep);
  const TensorParallel tp{grid_.tp_comm.get(), s_.sequence_parallel};
  const ExpertParallel ep{grid_.ep_comm.get()};
  const int64_t pp = s_.pp, vp = s_.vp;
  // Chunk k of stage s is virtual stage k·pp + s, its layers a contiguous block.
  for (int64_t k = 0; k < vp; ++k) {
    const int64_t virtual_stage = k * pp + grid_.pp_rank;
    ModelPart part;
    if (vp == 1) {
      for (int64_t s = 0; s < grid_.pp_rank; ++s) part.first_layer += layers_[s];
      part.layers = layers_[grid_.pp_rank];
    } else {
      part.layers = config.layers / (pp * vp);
      part.first_layer = virtual_stage * part.layers;
    }
    part.first = virtual_stage == 0;
    part.last = virtual_stage == pp * vp - 1;
    chunks_.push_back(Transformer(config, tp, part, ep));
  }
  return chunks_[0];
}

ParallelRun MegatronStrategy::wrap(torch::nn::Module&, TransformerImpl* lm, const WrapContext& ctx) {
  // lm is chunks_[0]; the scaffold set its activation checkpointing and moved it.
  std::vector<TransformerImpl*> chunks;
  for (auto& c : chunks_) {
    c->activation_checkpointing = lm->activation_checkpointing;
    c->to(ctx.device);
    initialize_parameters(*c, ctx.seed);  // each rank draws its block of every parameter
    chunks.push_back(c.get());
  }
  std::vector<TrainTensor> tensors = megatron_tensors(chunks, grid_);
  auto reducer = std::make_unique<MegatronGradReducer>(chunks, grid_, s_.sequence_parallel);
  ParallelRun run;
  if (s_.pp > 1) {
    const int64_t split = s_.sequence_parallel ? s_.tp : 1;
    run.schedule =
        std::make_unique<PipelineDriver>(chunks, *grid_.pp_comm, *reducer, shape_.micro_batch, shape_.seq, split);
  }
  if (s_.distributed_optimizer && grid_.dp > 1) {
    // The ranges are disjoint across dp as well as tp and pp: the norm spans every rank.
    run.shard = std::make_unique<DistributedOptimizer>(tensors, *grid_.dp_comm, ctx.world.comm.get());
  } else {
    // Replicas: the first writes (the first of the experts' replicas: dp ranks below ep).
    for (TrainTensor& t : tensors) t.writer = t.writer && grid_.dp_rank / grid_.ep == 0;
    run.shard = std::make_unique<LocalParameters>(std::move(tensors), grid_.mp_comm.get());
  }
  run.reducer = std::move(reducer);
  run.data = {grid_.dp_rank, grid_.data_comm.get()};
  return run;
}

nlohmann::json MegatronStrategy::describe() const {
  return {{"name", "megatron"},
          {"tp", s_.tp},
          {"pp", s_.pp},
          {"ep", s_.ep},
          {"sp", s_.sequence_parallel},
          {"vp", s_.vp},
          {"pp_layers", layers_},
          {"distributed_optimizer", s_.distributed_optimizer}};
}

}  // namespace dtbench
