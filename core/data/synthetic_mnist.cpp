#include "core/data/synthetic_mnist.h"

#include <ATen/ATen.h>
#include <ATen/core/PhiloxRNGEngine.h>

namespace dtbench {

std::pair<at::Tensor, at::Tensor> synthetic_mnist(uint64_t seed, int64_t first, int64_t count) {
  constexpr int64_t kPixels = 784, kClasses = 10;
  at::Tensor images = at::empty({count, kPixels}, at::kFloat), labels = at::empty({count}, at::kLong);
  float* img = images.data_ptr<float>();
  int64_t* lab = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    at::Philox4_32 rng(seed, static_cast<uint64_t>(first + i), 0);
    const int64_t label = rng() % kClasses;
    lab[i] = label;
    for (int64_t p = 0; p < kPixels; ++p) {
      const float noise = static_cast<float>(rng()) / 4294967296.0f;
      const bool band = (p / 28) * kClasses / 28 == label;  // the label's rows
      img[i * kPixels + p] = band ? 0.5f + 0.5f * noise : noise;
    }
  }
  return {images, labels};
}

}  // namespace dtbench
