// Linear layer y = x W^T (+ b). Plain at tensor-parallel size 1; the Megatron issue makes
// its column- and row-parallel forms (same parameter names, a slice of the weight each).
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace dtbench {

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias) {
    weight = register_parameter("weight", at::empty({out, in}));
    if (bias) this->bias = register_parameter("bias", at::zeros({out}));
  }
  at::Tensor forward(const at::Tensor& x) { return at::linear(x, weight, bias.defined() ? bias : at::Tensor()); }
  at::Tensor weight, bias;
};
TORCH_MODULE(Linear);

}  // namespace dtbench
