#include "core/train/adamw.h"

#include <ATen/ATen.h>

#include <cmath>

#include "kernels/dispatch.h"

namespace dtbench {

bool AdamW::decays(const std::string& name) {
  auto ends_with = [&](const char* s) {
    const std::string suffix(s);
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name.find("norm") == std::string::npos && !ends_with("bias");
}

void AdamW::add(const std::string& name, const at::Tensor& param, bool decay) {
  // fp32 state for fp32, bf16 and fp16 parameters; fp64 stays fp64.
  auto opts = param.options().dtype(param.scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
  slots_.push_back(Slot{name, param, at::zeros(param.sizes(), opts), at::zeros(param.sizes(), opts), decay});
}

void AdamW::step(double lr, const std::vector<at::Tensor>& grads) {
  at::NoGradGuard no_grad;
  ++step_;
  const double bc1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(step_));
  std::vector<kernels::AdamWSlot> fused;  // the same arithmetic, one pass (CPU) or multi-tensor launches (GPU)
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    at::Tensor g = grads.empty() ? s.param.grad() : grads[i];
    if (!g.defined()) continue;
    kernels::AdamWSlot k{s.param, g, s.exp_avg, s.exp_avg_sq, s.decay};
    if (opt_.fused && kernels::use_for_adamw(k)) {
      fused.push_back(std::move(k));
      continue;
    }
    const at::Tensor g32 = g.to(s.exp_avg.scalar_type());
    // torch.optim.AdamW's arithmetic, in place, one temporary (the denominator).
    if (s.decay && opt_.weight_decay != 0.0) s.param.mul_(1.0 - lr * opt_.weight_decay);
    s.exp_avg.lerp_(g32, 1.0 - opt_.beta1);
    s.exp_avg_sq.mul_(opt_.beta2).addcmul_(g32, g32, 1.0 - opt_.beta2);
    at::Tensor denom = s.exp_avg_sq.sqrt().div_(std::sqrt(bc2)).add_(opt_.eps);
    if (s.param.scalar_type() == s.exp_avg.scalar_type()) {
      s.param.addcdiv_(s.exp_avg, denom, -lr / bc1);
    } else {
      s.param.sub_((s.exp_avg / denom).to(s.param.scalar_type()), lr / bc1);
    }
  }
  if (!fused.empty())
    kernels::fused_adamw_step(fused, {lr, opt_.beta1, opt_.beta2, opt_.eps, opt_.weight_decay, step_});
}

}  // namespace dtbench
