#include <cmath>

#include "kernels/swiglu.h"

namespace dtbench::kernels {

namespace {
double sigmoid(double g) { return 1.0 / (1.0 + std::exp(-g)); }
}  // namespace

void swiglu_forward_ref(const float* gate, const float* up, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(gate[i] * sigmoid(gate[i]) * up[i]);
}

void swiglu_backward_ref(const float* dy, const float* gate, const float* up, float* dgate, float* dup, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i], sg = sigmoid(g);
    dgate[i] = static_cast<float>(dy[i] * static_cast<double>(up[i]) * sg * (1.0 + g * (1.0 - sg)));
    dup[i] = static_cast<float>(dy[i] * g * sg);
  }
}

}  // namespace dtbench::kernels
