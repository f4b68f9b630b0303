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

}  // namespace dtbench
