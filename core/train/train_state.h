// A training run's state in checkpoints: the optimizer's tensors (values and AdamW
// moments) under their parameter names, each rank's RNG, and the step and data position.
// The format is checkpoint.h's; this file says what goes in and checks what comes out.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/parallel/train_tensor.h"
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
