// AdamW on the CPU in one pass over memory (kernels/adamw.h). The ATen sequence it replaces
// (mul_, lerp_, mul_ + addcmul_, sqrt + div_ + add_, addcdiv_) reads and writes the state
// eight times and allocates the denominator; here each element is loaded once, the
// operations run in the same order and precision (fp32), and the results are stored once.
// Built with -O3 -fno-math-errno (CMakeLists.txt) so the loop vectorises, sqrt included;
// target_clones picks AVX-512, AVX2 or the baseline at load time.
#include <cmath>

#include "kernels/adamw.h"

namespace dtbench::kernels {

namespace {

// The clones' resolver runs while the dynamic loader relocates the program, before a
// ThreadSanitizer runtime is up; instrumented, it crashes there, so TSan builds (which
// define DTBENCH_NO_TARGET_CLONES) take the baseline only.
#ifdef DTBENCH_NO_TARGET_CLONES
#define DTBENCH_TARGET_CLONES
#else
#define DTBENCH_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

DTBENCH_TARGET_CLONES void step_range(float* __restrict p, const float* __restrict g, float* __restrict m,
                                      float* __restrict v, int64_t n, float decay_factor, AdamWScalars k) {
  const float neg_step = -k.step_size;
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] + k.lerp_weight * (gi - m[i]);            // lerp_(g, 1 − β1), weight < 0.5
    const float vi = v[i] * k.beta2 + k.one_minus_beta2 * gi * gi;  // mul_(β2).addcmul_(g, g, 1 − β2)
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / k.sqrt_bc2 + k.eps;
    p[i] = p[i] * decay_factor + neg_step * (mi / denom);  // mul_(1 − lr·wd), then addcdiv_
  }
}

}  // namespace

void adamw_step_cpu(const AdamWTensor* tensors, int64_t count, const AdamWHyper& hyper) {
  const AdamWScalars k = adamw_scalars(hyper);
  const bool decaying = hyper.weight_decay != 0.0;
  for (int64_t t = 0; t < count; ++t) {
    const AdamWTensor& a = tensors[t];
    // A factor of 1 leaves the parameter exactly as it was (no decay for norms and biases).
    step_range(static_cast<float*>(a.param), static_cast<const float*>(a.grad), a.exp_avg, a.exp_avg_sq, a.numel,
               a.decay && decaying ? k.decay_factor : 1.0f, k);
  }
}

}  // namespace dtbench::kernels
