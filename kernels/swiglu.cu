// SwiGLU on CUDA: elementwise, grid-stride; σ as 1 / (1 + e^−g) in fp32 (no fast-math exp).
#include "kernels/cuda_common.cuh"
#include "kernels/swiglu.h"

namespace dtbench::kernels {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float sigmoid(float g) { return 1.0f / (1.0f + expf(-g)); }

template <typename T>
__global__ void swiglu_forward_kernel(const T* gate, const T* up, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = load(gate + i);
    store(y + i, g * sigmoid(g) * load(up + i));
  }
}

template <typename T>
__global__ void swiglu_backward_kernel(const T* dy, const T* gate, const T* up, T* dgate, T* dup, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = load(gate + i), u = load(up + i), d = load(dy + i), sg = sigmoid(g);
    store(dgate + i, d * u * sg * (1.0f + g * (1.0f - sg)));
    store(dup + i, d * g * sg);
  }
}

}  // namespace

void swiglu_forward_cuda(DType dtype, const void* gate, const void* up, void* y, int64_t n, Stream stream) {
  if (n == 0) return;
  with_element_type(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    swiglu_forward_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const T*>(gate), static_cast<const T*>(up), static_cast<T*>(y), n);
  });
  CUDA_CHECK_LAUNCH();
}

void swiglu_backward_cuda(DType dtype, const void* dy, const void* gate, const void* up, void* dgate, void* dup,
                          int64_t n, Stream stream) {
  if (n == 0) return;
  with_element_type(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    swiglu_backward_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const T*>(dy), static_cast<const T*>(gate), static_cast<const T*>(up), static_cast<T*>(dgate),
        static_cast<T*>(dup), n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace dtbench::kernels
