// The training loop: micro-batches and gradient accumulation, the term-weighted loss over
// the global batch, global gradient-norm clipping, AdamW with the LR schedule, the step
// line and the record's steps and metrics. Parallel strategies plug in through GradSync.
#pragma once

#include <nlohmann/json.hpp>

#include "core/comm/communicator.h"
#include "core/train/train_args.h"
#include "core/train/trainable.h"

namespace dtbench {

// What the loop needs from a parallel strategy.
class GradSync {
 public:
  virtual ~GradSync() = default;
  virtual void prepare_backward(bool sync) = 0;
  virtual void finish_backward() = 0;
  // The communicator over which gradients are owned disjointly (shards), for the global
  // norm; nullptr when every rank holds whole gradients.
  virtual Communicator* norm_comm() = 0;
};

struct TrainContext {
  Communicator* world = nullptr;  // for the loss and the timing spread
  int64_t dp_rank = 0;
  double peak_flops_per_device = 0;  // for MFU
  std::string peak_source;
};

// Trains and returns {"steps": [...], "metrics": {...}}; rank 0 prints the step lines.
nlohmann::json train(Trainable& task, GradSync& sync, const TrainArgs& args, const BatchLayout& layout,
                     const TrainContext& ctx);

// FLOP/s of this process on an fp32 GEMM (its intra-op threads), measured for ~0.3 s:
// the CPU "peak" that MFU is computed against.
double measure_cpu_gemm_flops();

}  // namespace dtbench
