#include <cmath>
#include <cstring>

#include "kernels/adamw.h"

namespace dtbench::kernels {

namespace {

// fp32 → nearest bf16 (ties to even), returned as the fp32 it stands for. NaN stays NaN.
float round_bf16(float v) {
  if (std::isnan(v)) return v;
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  bits &= 0xffff0000u;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

}  // namespace

void adamw_step_ref(const AdamWTensor* tensors, int64_t count, const AdamWHyper& hyper, bool param_bf16) {
  // The same fp32 scalars the CUDA kernel and the ATen code use; the arithmetic in double.
  const AdamWScalars k = adamw_scalars(hyper);
  const bool decaying = hyper.weight_decay != 0.0;
  auto as_param = [&](double v) { return param_bf16 ? round_bf16(static_cast<float>(v)) : static_cast<float>(v); };
  for (int64_t t = 0; t < count; ++t) {
    const AdamWTensor& a = tensors[t];
    float* p = static_cast<float*>(a.param);
    const float* g = static_cast<const float*>(a.grad);
    for (int64_t i = 0; i < a.numel; ++i) {
      if (a.decay && decaying) p[i] = as_param(static_cast<double>(p[i]) * k.decay_factor);
      const double m = a.exp_avg[i] + static_cast<double>(k.lerp_weight) * (g[i] - static_cast<double>(a.exp_avg[i]));
      const double v =
          static_cast<double>(k.beta2) * a.exp_avg_sq[i] + static_cast<double>(k.one_minus_beta2) * g[i] * g[i];
      a.exp_avg[i] = static_cast<float>(m);
      a.exp_avg_sq[i] = static_cast<float>(v);
      // From the stored fp32 moments, as the next step will see them.
      const double update = a.exp_avg[i] / (std::sqrt(static_cast<double>(a.exp_avg_sq[i])) / k.sqrt_bc2 + k.eps);
      p[i] = as_param(p[i] - static_cast<double>(k.step_size) *
                                 (param_bf16 ? round_bf16(static_cast<float>(update)) : update));
    }
  }
}

}  // namespace dtbench::kernels
