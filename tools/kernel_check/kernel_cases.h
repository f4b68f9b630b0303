// The kernel checks: every fused op, forward and backward, in fp32 and bf16, against its oracle.
//   device cpu:  the ops on CPU tensors (the CPU references, through the same glue and
//                autograd functions the model uses) against the model's own ATen code;
//   device cuda: the ops on CUDA tensors (the CUDA kernels) against the same ops on CPU
//                copies of the inputs (the references), the ground truth.
// kernel_check prints the rows as a table; the unit tests assert them.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dtbench::kernels {

struct CheckRow {
  std::string op, dtype, tensor;  // e.g. "rmsnorm", "bf16", "dx"
  double max_abs = 0, max_rel = 0, tol = 0;
  bool pass = false;
};

// `got` against `want`, elementwise: |got − want| ≤ tol · (|want| + rms(want)) — relative for
// typical values, bounded by the tensor's own scale near zero. max_rel is the largest
// |got − want| / (|want| + rms(want)). A NaN in one and not the other fails.
CheckRow compare(const at::Tensor& got, const at::Tensor& want, double tol);

// fp32 and bf16 tolerances of compare(): fp32 leaves room for fp32-against-double
// accumulation; bf16 for a rounding or two of the 8-bit mantissa.
constexpr double kTolF32 = 2e-5, kTolBF16 = 2e-2;

// All rows, inputs drawn from `seed`. On CUDA the shapes include model-sized ones too
// (vocabulary 128256, hidden 4096, an AdamW tensor of more than one launch).
std::vector<CheckRow> run_kernel_checks(const c10::Device& device, uint64_t seed);

// The model's ATen code for each op: the oracles on CPU.
namespace oracle {
at::Tensor rmsnorm(const at::Tensor& x, const at::Tensor& w, double eps);            // core/layers/norm.h
at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);  // core/model/rope.cpp
at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up);  // core/model/transformer.cpp, the MLP
at::Tensor cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets);  // transformer.cpp, the loss
}  // namespace oracle

}  // namespace dtbench::kernels
