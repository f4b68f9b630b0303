// The transformer's MLP: SwiGLU (Llama: up, gate, down) or GELU (GPT: up, down). With
// tensor parallelism up and gate are column-parallel and down row-parallel. A mixture of
// experts (moe.h) holds one per expert and calls partial() on its dispatched tokens.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "core/layers/linear.h"
#include "core/layers/tensor_parallel.h"
#include "core/model/config.h"

namespace dtbench {

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const ModelConfig& c, const TensorParallel& tp);
  // [..., h] -> [..., h], entering and leaving the tensor-parallel region.
  at::Tensor forward(const at::Tensor& x);
  // This rank's product for inputs already in the parallel region: with tensor parallelism a
  // partial sum without down's bias (the caller completes it).
  at::Tensor partial(const at::Tensor& x);
  Linear up{nullptr}, gate{nullptr}, down{nullptr};  // gate only for SwiGLU

 private:
  bool swiglu_;
  TensorParallel tp_;
};
TORCH_MODULE(Mlp);

}  // namespace dtbench
