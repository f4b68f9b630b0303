// Synthetic MNIST-shaped data for the MLP of AWS's DDP case: 28x28 images, 10 classes. Each
// image is uniform noise with its label's band of rows brightened, so the labels are
// learnable; image and label are pure functions of (seed, global sample index).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>

namespace dtbench {

// Images [count, 784] (float) and labels [count] (int64) of samples [first, first + count).
std::pair<at::Tensor, at::Tensor> synthetic_mnist(uint64_t seed, int64_t first, int64_t count);

}  // namespace dtbench
