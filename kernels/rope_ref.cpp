// Per pair (i, i + d/2) of a row at position t, with c = cos[t], s = sin[t]:
//   forward    y1 = x1·c[i] − x2·s[i]        y2 = x2·c[i+h] + x1·s[i+h]
//   transpose  x1 = y1·c[i] + y2·s[i+h]      x2 = y2·c[i+h] − y1·s[i]
#include "kernels/check.h"
#include "kernels/rope.h"

namespace dtbench::kernels {

void rope_ref(const float* in, const float* cos, const float* sin, float* out, const RopeShape& s, bool transpose) {
  KERNEL_CHECK(s.head_dim % 2 == 0, "RoPE needs an even head_dim");
  const int64_t half = s.head_dim / 2;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h)
      for (int64_t t = 0; t < s.seq; ++t) {
        const float* x = in + b * s.in_stride[0] + h * s.in_stride[1] + t * s.in_stride[2];
        float* y = out + b * s.out_stride[0] + h * s.out_stride[1] + t * s.out_stride[2];
        const float *c = cos + t * s.head_dim, *sn = sin + t * s.head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const double x1 = x[i], x2 = x[i + half];
          const double c1 = c[i], c2 = c[i + half], s1 = sn[i], s2 = sn[i + half];
          y[i] = static_cast<float>(transpose ? x1 * c1 + x2 * s2 : x1 * c1 - x2 * s1);
          y[i + half] = static_cast<float>(transpose ? x2 * c2 - x1 * s1 : x2 * c2 + x1 * s2);
        }
      }
}

}  // namespace dtbench::kernels
