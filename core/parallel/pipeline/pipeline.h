// Runs a pipeline schedule (schedule.h) on one stage: receives activations from the
// previous stage and gradients from the next, runs the stage's forward and backward, and
// sends the results on. The model is behind PipelineStage; the pipeline never sees it.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

#include "core/comm/communicator.h"
#include "core/parallel/pipeline/schedule.h"

namespace dtbench {

struct PipelineStage {
  // Forward of micro-batch `micro`: `input` is the previous stage's activation (a leaf that
  // requires grad), undefined on the first stage. Returns the activation to send on, or on
  // the last stage the (scaled) loss to differentiate.
  std::function<at::Tensor(int64_t micro, const at::Tensor& input)> forward;
  // Before each backward; `final` on the step's last one (when data parallelism reduces).
  std::function<void(int64_t micro, bool final)> before_backward;
  std::function<void(int64_t micro)> after_backward;
  // Shape and options of the activations passed between stages (for receive buffers).
  std::vector<int64_t> activation_shape;
  at::TensorOptions activation_options;
};

// `pp`: the stages, in order (this stage is pp.rank()).
void run_pipeline(Communicator& pp, const std::vector<PipeAction>& schedule, const PipelineStage& stage,
                  int64_t micro_batches);

// A stage holding several model chunks (interleaved schedules).
struct ChunkedStage {
  // Forward of `chunk` for `micro`: `input` undefined where the chunk starts the model
  // (chunk 0 of stage 0). Returns the activation, or the loss after the model's last chunk.
  std::function<at::Tensor(int64_t chunk, int64_t micro, const at::Tensor& input)> forward;
  std::function<void(int64_t chunk, int64_t micro)> before_backward, after_backward;
  std::vector<int64_t> activation_shape;
  at::TensorOptions activation_options;
};

// Runs a lock-step timetable (interleaved_timetable): each tick's forward and backward,
// then a ring shift of activations (to the next stage; the last stage's chunk c feeds the
// first stage's chunk c + 1) and one of gradients (back), each a paired send/receive that
// every stage makes in the same tick, so none can wait on another in a cycle. Ticks in
// which no stage has anything to pass skip the shift.
void run_timetable(Communicator& pp, const std::vector<std::vector<PipeTick>>& table, int64_t chunks,
                   const ChunkedStage& stage);

}  // namespace dtbench
