// RoPE on CUDA: one thread per (row, pair); consecutive threads take consecutive pairs of a
// row, so loads and stores of each half are coalesced. Formulas as in rope_ref.cpp.
#include "kernels/cuda_common.cuh"
#include "kernels/rope.h"

namespace dtbench::kernels {

namespace {

constexpr int kThreads = 256;

template <typename T, bool kTranspose>
__global__ void rope_kernel(const T* in, const float* cos, const float* sin, T* out, RopeShape s) {
  const int64_t half = s.head_dim / 2, total = s.batch * s.heads * s.seq * half;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = k % half, row = k / half;
    const int64_t t = row % s.seq, h = row / s.seq % s.heads, b = row / s.seq / s.heads;
    const T* x = in + b * s.in_stride[0] + h * s.in_stride[1] + t * s.in_stride[2];
    T* y = out + b * s.out_stride[0] + h * s.out_stride[1] + t * s.out_stride[2];
    const float* c = cos + t * s.head_dim;
    const float* sn = sin + t * s.head_dim;
    const float x1 = load(x + i), x2 = load(x + i + half);
    const float c1 = c[i], c2 = c[i + half], s1 = sn[i], s2 = sn[i + half];
    store(y + i, kTranspose ? x1 * c1 + x2 * s2 : x1 * c1 - x2 * s1);
    store(y + i + half, kTranspose ? x2 * c2 - x1 * s1 : x2 * c2 + x1 * s2);
  }
}

}  // namespace

void rope_cuda(DType dtype, const void* in, const float* cos, const float* sin, void* out, const RopeShape& shape,
               bool transpose, Stream stream) {
  KERNEL_CHECK(shape.head_dim % 2 == 0, "RoPE needs an even head_dim");
  const int64_t pairs = shape.batch * shape.heads * shape.seq * (shape.head_dim / 2);
  if (pairs == 0) return;
  const unsigned blocks = elementwise_blocks(pairs, kThreads);
  with_element_type(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(in);
    T* y = static_cast<T*>(out);
    if (transpose)
      rope_kernel<T, true><<<blocks, kThreads, 0, stream>>>(x, cos, sin, y, shape);
    else
      rope_kernel<T, false><<<blocks, kThreads, 0, stream>>>(x, cos, sin, y, shape);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace dtbench::kernels
