// A step's micro-batches through this rank's pipeline stage: 1F1B over one model chunk
// (schedule.h, run_pipeline), or the interleaved timetable over --vp chunks
// (run_timetable). A chunk's forward embeds the tokens where it starts the model, runs its
// blocks, and ends in the summed loss where it ends the model. The driver measures each
// stage's compute and reports the bubble it implies beside the schedule's ideal.
#pragma once

#include <vector>

#include "core/comm/communicator.h"
#include "core/model/transformer.h"
#include "core/parallel/roles.h"

namespace dtbench {

// Gradient reduction as a pipeline drives it: before each chunk's backward (`last` on the
// chunk's last micro-batch, where data parallelism reduces), and once after the step.
class ChunkGradients {
 public:
  virtual ~ChunkGradients() = default;
  virtual void before_chunk_backward(int64_t chunk, bool last) = 0;
  virtual void finish_step() = 0;
};

class PipelineDriver final : public MicroBatchSchedule {
 public:
  // `chunks`: this rank's chunks, chunk k being virtual stage k·pp + pp.rank(). `pp`: the
  // stages of this replica, in order. `sequence_split`: the tensor-parallel size under
  // sequence parallelism (activations hold seq / split positions), else 1.
  PipelineDriver(std::vector<TransformerImpl*> chunks, Communicator& pp, ChunkGradients& grads, int64_t micro_batch,
                 int64_t seq, int64_t sequence_split);

  double forward_backward(int64_t micro_batches, const Tokens& tokens, double divisor) override;
  // pipeline_bubble_measured (1 - m · slowest stage's compute per micro-batch / step time),
  // pipeline_bubble_ideal ((p - 1) / (v·m + p - 1)), the compute per micro-batch.
  nlohmann::json metrics(double step_time_s) override;

 private:
  std::vector<TransformerImpl*> chunks_;
  Communicator& pp_;
  ChunkGradients& grads_;
  std::vector<int64_t> activation_shape_;
  std::vector<double> compute_per_micro_;  // per step: the slowest stage's
  int64_t micro_batches_ = 1;
};

}  // namespace dtbench
