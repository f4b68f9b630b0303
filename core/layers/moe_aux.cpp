#include "core/layers/moe_aux.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/layers/recompute_scope.h"

namespace dtbench {

namespace {

double& scale_ref() {
  static double scale = 1.0;
  return scale;
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct AttachAuxLoss : torch::autograd::Function<AttachAuxLoss> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& y, const at::Tensor& aux, double grad) {
    ctx->saved_data["grad"] = grad;
    ctx->saved_data["dtype"] = static_cast<int64_t>(aux.scalar_type());
    ctx->saved_data["device"] = aux.device();
    return y.view_as(y);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const at::TensorOptions options = at::TensorOptions()
                                          .dtype(static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt()))
                                          .device(ctx->saved_data["device"].toDevice());
    return {g[0], at::full({}, ctx->saved_data["grad"].toDouble(), options), {}};
  }
};

}  // namespace

void set_aux_loss_scale(double scale) { scale_ref() = scale; }
double aux_loss_scale() { return scale_ref(); }

at::Tensor attach_aux_loss(const at::Tensor& y, const at::Tensor& aux, double grad) {
  return AttachAuxLoss::apply(y, aux, grad);
}

MoeStats& MoeStats::instance() {
  static MoeStats stats;
  return stats;
}

void MoeStats::record(int64_t layer, const at::Tensor& counts, const at::Tensor& aux_sum, double weight) {
  if (in_recompute()) return;
  const at::Tensor c = counts.detach().to(at::kDouble) * weight;
  const at::Tensor a = aux_sum.detach().to(at::kDouble) * weight;
  Layer& l = layers_[layer];
  if (!l.counts.defined()) {
    l.counts = c;
    l.aux = a;
  } else {
    l.counts = l.counts + c;
    l.aux = l.aux + a;
  }
}

at::Tensor MoeStats::take(int64_t layers, int64_t experts, const at::Tensor& like) {
  at::Tensor out = at::zeros({layers * experts + 1}, like.options().dtype(at::kDouble));
  for (auto& [layer, l] : layers_) {
    out.narrow(0, layer * experts, experts).copy_(l.counts);
    out.narrow(0, layers * experts, 1).add_(l.aux.reshape({1}));
  }
  layers_.clear();
  return out;
}

}  // namespace dtbench
