#include "core/predict/gemm_rate.h"

namespace dtbench {

double gemm_set_rate(const std::vector<Gemm>& gemms, const GemmCurve* curve, double scale, double flat) {
  if (curve == nullptr) return flat;
  double flops = 0, seconds = 0;
  for (const Gemm& g : gemms) {
    const double f = g.flops();
    flops += f;
    seconds += f / (curve->rate(g.m, g.n, g.k) * scale);
  }
  return flops > 0 ? flops / seconds : flat;
}

}  // namespace dtbench
