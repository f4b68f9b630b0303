// RMSNorm (Llama) and LayerNorm (GPT), computed in fp32 whatever the input dtype.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "core/layers/parameters.h"
#include "kernels/dispatch.h"

namespace dtbench {

class NormImpl : public torch::nn::Module {
 public:
  NormImpl(int64_t hidden, bool rms, double eps) : rms_(rms), eps_(eps) {
    weight = register_parameter("weight", at::ones({hidden}, parameter_options()));
    if (!rms) bias = register_parameter("bias", at::zeros({hidden}, parameter_options()));
  }
  at::Tensor forward(const at::Tensor& x) {
    if (rms_ && kernels::use_for(x)) return kernels::fused_rmsnorm(x, weight, eps_);  // the same math, one kernel
    const at::Tensor x32 = x.to(at::kFloat);
    at::Tensor y;
    if (rms_) {
      y = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps_) * weight.to(at::kFloat);
    } else {
      y = at::layer_norm(x32, {x.size(-1)}, weight.to(at::kFloat), bias.to(at::kFloat), eps_);
    }
    return y.to(x.scalar_type());
  }
  at::Tensor weight, bias;

 private:
  bool rms_;
  double eps_;
};
TORCH_MODULE(Norm);

}  // namespace dtbench
