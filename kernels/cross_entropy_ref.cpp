#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/check.h"
#include "kernels/cross_entropy.h"

namespace dtbench::kernels {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// logsumexp of one row, a chunk at a time: each chunk's own max and sum, merged into the
// running pair (m, s) that stands for s·e^m.
double row_logsumexp(const float* x, int64_t vocab, int64_t chunk) {
  double m = kNegInf, s = 0.0;
  for (int64_t c0 = 0; c0 < vocab; c0 += chunk) {
    const int64_t c1 = std::min(vocab, c0 + chunk);
    double cm = kNegInf;
    for (int64_t j = c0; j < c1; ++j) cm = std::max(cm, static_cast<double>(x[j]));
    if (cm == kNegInf) continue;  // all masked: contributes nothing
    double cs = 0.0;
    for (int64_t j = c0; j < c1; ++j) cs += std::exp(x[j] - cm);  // NaN logits propagate here
    const double top = std::max(m, cm);
    s = (m == kNegInf ? 0.0 : s * std::exp(m - top)) + cs * std::exp(cm - top);
    m = top;
  }
  return m + std::log(s);
}

}  // namespace

void cross_entropy_forward_ref(const float* logits, const int64_t* targets, float* loss, float* lse, int64_t rows,
                               int64_t vocab, int64_t ignore_index, int64_t chunk) {
  KERNEL_CHECK(chunk >= 1, "the vocabulary chunk must hold at least one entry");
  for (int64_t i = 0; i < rows; ++i) {
    const float* x = logits + i * vocab;
    const double l = row_logsumexp(x, vocab, chunk);
    const int64_t t = targets[i];
    lse[i] = static_cast<float>(l);
    if (t == ignore_index)
      loss[i] = 0.0f;
    else if (t < 0 || t >= vocab)
      loss[i] = std::numeric_limits<float>::quiet_NaN();
    else
      loss[i] = static_cast<float>(l - x[t]);
  }
}

void cross_entropy_backward_ref(const float* logits, const int64_t* targets, const float* lse, const float* grad,
                                float* dlogits, int64_t rows, int64_t vocab, int64_t ignore_index) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* x = logits + i * vocab;
    float* d = dlogits + i * vocab;
    const int64_t t = targets[i];
    for (int64_t j = 0; j < vocab; ++j) {
      const double p = t == ignore_index ? 0.0 : std::exp(static_cast<double>(x[j]) - lse[i]) - (j == t ? 1.0 : 0.0);
      d[j] = static_cast<float>(p * grad[0]);
    }
  }
}

}  // namespace dtbench::kernels
