#include "core/model/mlp.h"

#include "kernels/dispatch.h"

namespace dtbench {

namespace {

// SwiGLU's product silu(gate) · up: one fused kernel on GPU.
at::Tensor silu_times(const at::Tensor& gate, const at::Tensor& up) {
  if (kernels::use_for(gate)) return kernels::fused_swiglu(gate, up);
  return at::silu(gate) * up;
}

}  // namespace

MlpImpl::MlpImpl(const ModelConfig& c, const TensorParallel& tp) : swiglu_(c.swiglu), tp_(tp) {
  up = register_module("up", Linear(c.hidden, c.ffn, c.bias, Split::kColumn, tp));
  if (swiglu_) gate = register_module("gate", Linear(c.hidden, c.ffn, c.bias, Split::kColumn, tp));
  down = register_module("down", Linear(c.ffn, c.hidden, c.bias, Split::kRow, tp));
}

at::Tensor MlpImpl::partial(const at::Tensor& x) {
  return swiglu_ ? down(silu_times(gate(x), up(x))) : down(at::gelu(up(x), "tanh"));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) {
  return down->add_bias(exit_parallel_region(partial(enter_parallel_region(x, tp_)), tp_));
}

}  // namespace dtbench
