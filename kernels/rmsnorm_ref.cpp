// Plain loops over rows; the formulas of kernels/rmsnorm.h, derived once:
//   r = (mean(x²) + eps)^(-1/2),  x̂ = x·r,  y = x̂·w
//   dx = r · (w·dy − x̂ · mean(w·dy·x̂)),  dw = Σ_rows dy·x̂
#include <cmath>
#include <vector>

#include "kernels/rmsnorm.h"

namespace dtbench::kernels {

void rmsnorm_forward_ref(const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t cols, float eps) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * cols;
    double ss = 0.0;
    for (int64_t j = 0; j < cols; ++j) ss += static_cast<double>(xr[j]) * xr[j];
    const double r = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
    rstd[i] = static_cast<float>(r);
    for (int64_t j = 0; j < cols; ++j) y[i * cols + j] = static_cast<float>(xr[j] * r * w[j]);
  }
}

void rmsnorm_backward_ref(const float* dy, const float* x, const float* w, const float* rstd, float* dx, float* dw,
                          int64_t rows, int64_t cols) {
  std::vector<double> dw_sum(static_cast<std::size_t>(cols), 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    const float *xr = x + i * cols, *gr = dy + i * cols;
    const double r = rstd[i];
    double dot = 0.0;
    for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(w[j]) * gr[j] * (xr[j] * r);
    const double mean_dot = dot / static_cast<double>(cols);
    for (int64_t j = 0; j < cols; ++j) {
      const double xhat = xr[j] * r;
      dx[i * cols + j] = static_cast<float>(r * (static_cast<double>(w[j]) * gr[j] - xhat * mean_dot));
      dw_sum[static_cast<std::size_t>(j)] += gr[j] * xhat;
    }
  }
  for (int64_t j = 0; j < cols; ++j) dw[j] = static_cast<float>(dw_sum[static_cast<std::size_t>(j)]);
}

}  // namespace dtbench::kernels
