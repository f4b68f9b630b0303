// One AdamW step over many tensors, as core/train/adamw.cpp takes it (torch.optim.AdamW's
// arithmetic; decoupled weight decay; fp32 moments), per element:
//   p ← p·(1 − lr·wd)                        (tensors that decay, when wd ≠ 0)
//   m ← lerp(m, g, 1 − β1),  v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / bc1) · m / (√v / √bc2 + eps),   bc_k = 1 − β_k^step
// A bf16 parameter is rounded to bf16 after the decay and after the update, and the update
// m / denom is rounded to bf16 before it is applied, as the ATen code does.
#pragma once

#include <cmath>

#include "kernels/types.h"

namespace dtbench::kernels {

struct AdamWHyper {
  double lr = 0, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0;
  int64_t step = 1;  // the step being taken, from 1
};

// The step's scalars in fp32, made from doubles exactly as the ATen code's scalar arguments are.
struct AdamWScalars {
  float decay_factor, lerp_weight, beta2, one_minus_beta2, sqrt_bc2, eps, step_size;
};
inline AdamWScalars adamw_scalars(const AdamWHyper& h) {
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(h.beta2, static_cast<double>(h.step));
  return {static_cast<float>(1.0 - h.lr * h.weight_decay),
          static_cast<float>(1.0 - h.beta1),
          static_cast<float>(h.beta2),
          static_cast<float>(1.0 - h.beta2),
          static_cast<float>(std::sqrt(bc2)),
          static_cast<float>(h.eps),
          static_cast<float>(h.lr / bc1)};
}

// One tensor: param of the launch's param dtype, grad of its grad dtype, moments fp32; all
// contiguous, numel elements each. Updated in place.
struct AdamWTensor {
  void* param;
  const void* grad;
  float* exp_avg;
  float* exp_avg_sq;
  int64_t numel;
  bool decay;  // false for norms and biases
};

// All `tensors` (of one param dtype and one grad dtype) in as few launches as their count and
// sizes allow: each block takes a fixed-size chunk of one tensor.
void adamw_step_cuda(DType param_dtype, DType grad_dtype, const AdamWTensor* tensors, int64_t count,
                     const AdamWHyper& hyper, Stream stream);

// The CPU path (fp32 parameters and gradients): one pass, vectorised, the ATen code's order
// of operations in fp32. Callers split large tensors across threads.
void adamw_step_cpu(const AdamWTensor* tensors, int64_t count, const AdamWHyper& hyper);

// The CPU reference (the ground truth): param and grad fp32 here; param_bf16 rounds the
// parameter (and the update) to bf16 where a bf16 parameter would be.
void adamw_step_ref(const AdamWTensor* tensors, int64_t count, const AdamWHyper& hyper, bool param_bf16);

}  // namespace dtbench::kernels
