// A training run's state in checkpoints: the optimizer's tensors (values and AdamW
// moments) under their parameter names, each rank's RNG, and the step and data position.
// The format is checkpoint.h's; this file says what goes in and checks what comes out.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/train/checkpoint.h"

namespace dtbench {

class AdamW;
class ControlPlane;

// --ckpt-dir --ckpt-every --resume.
struct CheckpointArgs {
  std::string dir;
  int64_t every = 0;  // 0: never save
  bool resume = false;
};

// A tensor the optimizer updates, as this rank holds it: a whole parameter (one process,
// DDP), elements [start, start + numel) of its flattened value (a slice of an FSDP shard, a
// tensor-parallel block of rows), or of its flattened `block` of columns (a row-parallel
// weight's block, or a distributed optimizer's range of one). Checkpoints store it under the
// parameter's name with the whole shape, so they load under any strategy, layout and world
// size.
struct TrainTensor {
  std::string name;            // the module's parameter name
  at::Tensor value;            // updated in place by the optimizer
  std::vector<int64_t> shape;  // the whole parameter's shape
  int64_t start = 0;
  bool writer = true;  // this rank writes it to checkpoints (replicas: rank 0 alone)
  // Counts in the global gradient norm on this rank (a tensor replicated over the norm's
  // communicator counts on one of its ranks only).
  bool in_norm = true;
  ColumnBlock block;  // cols 0: start indexes the flattened parameter
};

// Saves the state after `steps_done` steps as <dir>/<prefix>-<steps_done>steps. `opt`
// holds `tensors` in order. `identity` is what a resumed run must match (model shape,
// global batch, sequence, data, seed); `position` is where the data stands. Collective.
std::string save_training_state(ControlPlane& ctl, const CheckpointArgs& args, const std::string& prefix,
                                int64_t steps_done, const std::vector<TrainTensor>& tensors, AdamW& opt,
                                const nlohmann::json& identity, const nlohmann::json& position);

// Loads the newest complete checkpoint into `tensors`, `opt` and this rank's RNG and
// returns its steps done (0 and path "" when there is none). Exit 2 (UsageError) when it
// was written with another identity. Collective.
int64_t load_training_state(ControlPlane& ctl, const CheckpointArgs& args, const std::string& prefix,
                            const std::vector<TrainTensor>& tensors, AdamW& opt, const nlohmann::json& identity,
                            std::string* path);

}  // namespace dtbench
