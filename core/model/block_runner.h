// How a model runs one of its repeated blocks. The model says which block and how to call
// it; the runner decides what happens around the call: a parallel strategy (FSDP) gathers
// the block's parameters before it and frees them after, and may recompute it in backward.
// This is the one seam between models and the strategies that wrap them.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

namespace torch::nn {
class Module;
}

namespace dtbench {

// Runs the block on its input; valid as long as the model is (runners may keep it for backward).
using BlockCall = std::function<at::Tensor(const at::Tensor&)>;

class BlockRunner {
 public:
  virtual ~BlockRunner() = default;
  // Block `index` (0-based, in forward order) of the model, whose module is `block`.
  virtual at::Tensor run(int64_t index, torch::nn::Module& block, const BlockCall& call, const at::Tensor& x) = 0;
};

}  // namespace dtbench
