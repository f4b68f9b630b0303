// Megatron-style training as a strategy: tensor parallelism (with sequence parallelism),
// pipeline stages (1F1B, or interleaved with virtual stages) and data parallelism on the
// tp x pp x dp process grid (core/comm/process_grid.h), optionally with the distributed
// optimizer. The pieces are separate: MegatronGradReducer (DDP per chunk plus the sequence-
// parallel and tied-embedding sums), DistributedOptimizer (ZeRO-1) or LocalParameters, and
// PipelineDriver (the schedules). This file checks the settings and wires them.
#pragma once

#include <string>
#include <vector>

#include "core/comm/process_grid.h"
#include "core/parallel/strategy.h"

namespace dtbench {

struct MegatronSettings {
  int64_t tp = 1, pp = 1, vp = 1;  // tensor-parallel size, pipeline stages, chunks per stage
  int64_t ep = 1;                  // expert-parallel size (a mixture of experts; divides dp)
  std::vector<int64_t> pp_layers;  // layers per stage; empty: as even as possible
  bool sequence_parallel = false;
  bool distributed_optimizer = false;
};

class MegatronStrategy final : public Strategy {
 public:
  // UsageError, naming the flags, when the settings cannot hold on `world_size` ranks.
  MegatronStrategy(const MegatronSettings& settings, int world_size);
  void check(const RunShape& shape, int world_size) override;
  int64_t data_parallel_size(int world_size) const override { return world_size / (s_.tp * s_.pp); }
  ParallelLayout layout(const RunShape& shape, int world_size) const override;
  Transformer make_model(const ModelConfig& config, World& world) override;
  ParallelRun wrap(torch::nn::Module& module, TransformerImpl* lm, const WrapContext& ctx) override;
  nlohmann::json describe() const override;

 private:
  MegatronSettings s_;
  std::vector<int64_t> layers_;  // per stage, resolved by check()
  RunShape shape_;
  std::vector<Transformer> chunks_;
  ProcessGrid grid_;
};

// The tensors the optimizer updates for this rank's chunks, in the chunks' parameter order:
// each rank's block of every parameter, named and shaped as the whole model's. A tensor
// replicated over the tensor-parallel group counts in the norm (and is written) on its tp
// rank 0 only; the head's copy of a tied embedding never. `writer` ignores data
// parallelism (each replica's rank could write it).
std::vector<TrainTensor> megatron_tensors(const std::vector<TransformerImpl*>& chunks, const ProcessGrid& grid);

}  // namespace dtbench
