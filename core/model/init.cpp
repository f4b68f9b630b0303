#include "core/model/init.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/PhiloxRNGEngine.h>

#include <cmath>

#include "core/report/errors.h"

namespace dtbench {

namespace {

// Element i of a parameter: Box-Muller on two 32-bit draws of Philox block i / 2 (the
// first pair for even i, the second for odd i), keyed by (seed, stream).
inline double normal_at(uint64_t seed, uint64_t stream, int64_t i) {
  at::Philox4_32 rng(seed, stream, static_cast<uint64_t>(i / 2));
  uint32_t a = rng(), b = rng();
  if (i % 2) {
    a = rng();
    b = rng();
  }
  const double u1 = (static_cast<double>(a) + 1.0) / 4294967296.0;  // (0, 1]: log is finite
  const double u2 = static_cast<double>(b) / 4294967296.0;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

template <typename T, typename Index>
void fill(at::Tensor& out, uint64_t seed, uint64_t stream, double std, Index index_of) {
  T* p = out.data_ptr<T>();
  at::parallel_for(0, out.numel(), 4096, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) p[k] = static_cast<T>(std * normal_at(seed, stream, index_of(k)));
  });
}

// float or double, by the tensor's dtype.
template <typename Index>
void fill_any(at::Tensor& out, const std::string& name, uint64_t seed, double std, Index index_of) {
  const uint64_t stream = parameter_stream(name);
  if (out.scalar_type() == at::kDouble)
    fill<double>(out, seed, stream, std, index_of);
  else if (out.scalar_type() == at::kFloat)
    fill<float>(out, seed, stream, std, index_of);
  else
    DT_CHECK(false, "init of {}: float or double only, got {}", name, c10::toString(out.scalar_type()));
}

}  // namespace

uint64_t parameter_stream(const std::string& name) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

void init_normal_slice(at::Tensor& out, uint64_t seed, const std::string& name, int64_t first, double std) {
  DT_CHECK(out.is_contiguous() && out.device().is_cpu(), "init of {}: needs a contiguous CPU tensor", name);
  fill_any(out, name, seed, std, [first](int64_t k) { return first + k; });
}

void init_normal_block(at::Tensor& out, uint64_t seed, const std::string& name, int64_t cols, int64_t row0,
                       int64_t col0, double std) {
  DT_CHECK(out.dim() == 2 && out.is_contiguous() && out.device().is_cpu(),
           "init of {}: a block needs a contiguous 2-D CPU tensor", name);
  const int64_t w = out.size(1);
  fill_any(out, name, seed, std, [=](int64_t k) { return (row0 + k / w) * cols + col0 + k % w; });
}

}  // namespace dtbench
