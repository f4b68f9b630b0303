// dispatch.h's differentiable ops: custom autograd functions around the tensor glue. Each
// saves what its backward needs and no more: RMSNorm its input and rstd (no fp32 copy of x),
// cross-entropy the logits and one logsumexp per row (no probabilities).
#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/dispatch.h"
#include "kernels/tensor_ops.h"

namespace dtbench::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct RmsNormFunction : torch::autograd::Function<RmsNormFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w32, double eps) {
    RmsNormForward f = rmsnorm_forward(x, w32, eps);
    ctx->save_for_backward({x, w32, f.rstd});
    return f.y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    RmsNormBackward b = rmsnorm_backward(grads[0], s[0], s[1], s[2]);
    return {b.dx, b.dw, at::Tensor()};
  }
};

struct RopeFunction : torch::autograd::Function<RopeFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    ctx->save_for_backward({cos, sin});
    return rope(x, cos, sin, /*transpose=*/false);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    return {rope(grads[0], s[0], s[1], /*transpose=*/true), at::Tensor(), at::Tensor()};
  }
};

struct SwigluFunction : torch::autograd::Function<SwigluFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up) {
    ctx->save_for_backward({gate, up});
    return swiglu_forward(gate, up);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    SwigluBackward b = swiglu_backward(grads[0], s[0], s[1]);
    return {b.dgate, b.dup};
  }
};

struct CrossEntropyFunction : torch::autograd::Function<CrossEntropyFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets) {
    CrossEntropyForward f = cross_entropy_forward(logits, targets);
    ctx->save_for_backward({logits, targets, f.lse});
    return f.loss_sum;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    return {cross_entropy_backward(grads[0], s[0], s[1], s[2]), at::Tensor()};
  }
};

}  // namespace

at::Tensor fused_rmsnorm(const at::Tensor& x, const at::Tensor& w, double eps) {
  // The weight in fp32 outside the function, so autograd casts dw back to w's dtype, as the
  // ATen path's w.to(kFloat) does.
  return RmsNormFunction::apply(x, w.to(at::kFloat), eps);
}

at::Tensor fused_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return RopeFunction::apply(x, cos, sin);
}

at::Tensor fused_swiglu(const at::Tensor& gate, const at::Tensor& up) { return SwigluFunction::apply(gate, up); }

at::Tensor fused_cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets) {
  return CrossEntropyFunction::apply(logits, targets);
}

}  // namespace dtbench::kernels
