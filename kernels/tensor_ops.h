// The kernels on tensors, without autograd: the glue between at::Tensor and the raw-pointer
// APIs. CUDA tensors go to the CUDA kernels on the device's current stream; CPU tensors go
// through fp32 copies to the CPU references and come back in their own dtype. One code path
// for both, so the CPU tests cover all of it but the launches.
#pragma once

#include <ATen/core/Tensor.h>

namespace dtbench::kernels {

// x [..., cols] fp32 or bf16; w [cols] fp32. rstd: [...] fp32, kept for backward.
struct RmsNormForward {
  at::Tensor y, rstd;
};
RmsNormForward rmsnorm_forward(const at::Tensor& x, const at::Tensor& w, double eps);
struct RmsNormBackward {
  at::Tensor dx, dw;  // dw fp32
};
RmsNormBackward rmsnorm_backward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& w,
                                 const at::Tensor& rstd);

// transpose = false: rope(x); true: its transpose, the backward.
at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, bool transpose);

at::Tensor swiglu_forward(const at::Tensor& gate, const at::Tensor& up);
struct SwigluBackward {
  at::Tensor dgate, dup;
};
SwigluBackward swiglu_backward(const at::Tensor& dy, const at::Tensor& gate, const at::Tensor& up);

// loss_sum: fp32 scalar; lse: [N] fp32, kept for backward. grad: the loss's gradient (scalar).
struct CrossEntropyForward {
  at::Tensor loss_sum, lse;
};
CrossEntropyForward cross_entropy_forward(const at::Tensor& logits, const at::Tensor& targets);
at::Tensor cross_entropy_backward(const at::Tensor& grad, const at::Tensor& logits, const at::Tensor& targets,
                                  const at::Tensor& lse);

}  // namespace dtbench::kernels
