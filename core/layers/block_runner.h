// How a model runs its units: each repeated block and, in untied Llama-style models, the
// head (final norm and output layer; TransformerImpl::runner_units). The model says which
// unit and how to call it; the runner decides what happens around the call: a parallel
// strategy (FSDP) gathers the unit's parameters before it and frees them after, and may
// recompute it in backward. This is the one seam between models and the strategies that
// wrap them.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace torch::nn {
class Module;
}

namespace dtbench {

// Runs the unit on its input; valid as long as the model is (runners may keep it for backward).
using BlockCall = std::function<at::Tensor(const at::Tensor&)>;

// The modules of one unit. Activation checkpointing recomputes blocks, not the head (whose
// recomputation would cost a second vocabulary-sized GEMM for little memory).
struct RunnerUnit {
  std::vector<torch::nn::Module*> modules;
  bool block = true;
};

class BlockRunner {
 public:
  virtual ~BlockRunner() = default;
  // Unit `index` (0-based, in forward order) of the model.
  virtual at::Tensor run(int64_t index, const BlockCall& call, const at::Tensor& x) = 0;
};

}  // namespace dtbench
