// The fused kernels as the model uses them: layers, model and train include only this header.
//
// Each op takes CUDA tensors to the CUDA kernels and CPU tensors to the CPU references (the
// latter for tests: the model keeps its ATen code on CPU). The model asks use_for(x) first
// and takes its ATen path when the answer is no. The exception is AdamW, whose fp32 CPU
// step is a one-pass loop of its own (kernels/adamw_cpu.cpp) that CPU runs take too.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "kernels/adamw.h"

namespace dtbench::kernels {

// Whether the CUDA kernels were built in and not switched off with DTBENCH_FUSED_KERNELS=0
// (which gives the ATen path everywhere, CPU AdamW included, for comparisons).
bool available();

// Whether the model takes the fused path for `x`: a CUDA tensor of fp32 or bf16, available().
bool use_for(const at::Tensor& x);

// RMSNorm over the last dimension, in fp32, returned in x's dtype (core/layers/norm.h); w of
// any floating dtype. Differentiable in x and w.
at::Tensor fused_rmsnorm(const at::Tensor& x, const at::Tensor& w, double eps);

// RoPE (core/model/rope.cpp): x [batch, heads, seq, head_dim], any strides but a unit one in
// head_dim; cos, sin fp32 [≥ seq, head_dim]. Differentiable in x.
at::Tensor fused_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// silu(gate) · up, the two of one shape and dtype. Differentiable in both.
at::Tensor fused_swiglu(const at::Tensor& gate, const at::Tensor& up);

// Σ_i cross-entropy(logits_i, targets_i) as an fp32 scalar; logits [N, V] fp32 or bf16,
// targets [N] int64, −100 ignored. Differentiable in logits; the gradient comes back in
// the logits' dtype.
at::Tensor fused_cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets);

// One AdamW step (kernels/adamw.h) over every slot: CUDA slots in multi-tensor launches,
// fp32 CPU slots through the one-pass CPU loop, split across the intra-op threads, bf16 CPU
// slots through the reference. Updates param, exp_avg and exp_avg_sq in place.
struct AdamWSlot {
  at::Tensor param, grad, exp_avg, exp_avg_sq;
  bool decay;
};
// Whether a slot takes the fused step: contiguous, fp32 moments, grad of the param's size on
// its device, and either use_for(param) (CUDA, fp32 or bf16) or fp32 param and grad on the CPU
// (unless DTBENCH_FUSED_KERNELS=0).
bool use_for_adamw(const AdamWSlot& slot);
void fused_adamw_step(const std::vector<AdamWSlot>& slots, const AdamWHyper& hyper);

}  // namespace dtbench::kernels
