#include "core/model/rope.h"

#include <cmath>

#include "kernels/dispatch.h"

namespace dtbench {

at::Tensor rope_inv_freq(const ModelConfig& c) {
  const int64_t d = c.head_dim();
  at::Tensor inv = 1.0 / at::pow(c.rope_theta, at::arange(0, d, 2, at::kDouble) / static_cast<double>(d));
  const RopeScaling& s = c.rope_scaling;
  if (s.factor > 0) {
    const double factor = s.factor, low = s.low_freq_factor, high = s.high_freq_factor;
    const auto old_ctx = static_cast<double>(s.original_context);
    at::Tensor wavelen = 2.0 * M_PI / inv;
    at::Tensor smooth = ((old_ctx / wavelen) - low) / (high - low);
    at::Tensor ramp = (1.0 - smooth) * inv / factor + smooth * inv;
    inv = at::where(wavelen < old_ctx / high, inv, at::where(wavelen > old_ctx / low, inv / factor, ramp));
  }
  return inv;
}

RopeTables rope_tables(const ModelConfig& c, int64_t seq, const at::Device& device) {
  at::Tensor angles = at::outer(at::arange(seq, at::kDouble), rope_inv_freq(c));  // [seq, d/2]
  at::Tensor emb = at::cat({angles, angles}, -1);
  return {emb.cos().to(at::kFloat).to(device), emb.sin().to(at::kFloat).to(device)};
}

at::Tensor apply_rope(const at::Tensor& x, const RopeTables& t) {
  if (kernels::use_for(x)) return kernels::fused_rope(x, t.cos, t.sin);  // the same math, one kernel
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  at::Tensor rotated = at::cat({-x2, x1}, -1);
  const int64_t seq = x.size(-2);
  at::Tensor cos = t.cos.narrow(0, 0, seq).to(x.scalar_type()), sin = t.sin.narrow(0, 0, seq).to(x.scalar_type());
  return x * cos + rotated * sin;
}

}  // namespace dtbench
