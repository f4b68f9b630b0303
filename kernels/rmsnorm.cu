// RMSNorm on CUDA: one block per row forward; backward with a fixed grid whose blocks each
// own a slice of rows and a private row of partial dw sums, added up by a second kernel.
#include "kernels/cuda_common.cuh"
#include "kernels/rmsnorm.h"

namespace dtbench::kernels {

namespace {

constexpr int kThreads = 256;
// Backward blocks: enough to fill an H200 (132 SMs) twice; fixed, so dw's summation order is too.
constexpr int64_t kBackwardBlocks = 264;

template <typename T>
__global__ void rmsnorm_forward_kernel(const T* x, const float* w, T* y, float* rstd, int64_t cols, float eps) {
  const T* xr = x + blockIdx.x * cols;
  T* yr = y + blockIdx.x * cols;
  float ss = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float v = load(xr + j);
    ss += v * v;
  }
  ss = block_sum(ss);
  const float r = 1.0f / sqrtf(ss / static_cast<float>(cols) + eps);
  if (threadIdx.x == 0) rstd[blockIdx.x] = r;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) store(yr + j, load(xr + j) * r * w[j]);
}

template <typename T>
__global__ void rmsnorm_backward_kernel(const T* dy, const T* x, const float* w, const float* rstd, T* dx,
                                        float* partial, int64_t rows, int64_t cols) {
  // Each thread owns columns j ≡ threadIdx.x (mod blockDim.x) of this block's partial row.
  float* part = partial + blockIdx.x * cols;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) part[j] = 0.0f;
  for (int64_t i = blockIdx.x; i < rows; i += gridDim.x) {
    const T *xr = x + i * cols, *gr = dy + i * cols;
    T* dxr = dx + i * cols;
    const float r = rstd[i];
    float dot = 0.0f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) dot += w[j] * load(gr + j) * (load(xr + j) * r);
    const float mean_dot = block_sum(dot) / static_cast<float>(cols);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float g = load(gr + j), xhat = load(xr + j) * r;
      store(dxr + j, r * (w[j] * g - xhat * mean_dot));
      part[j] += g * xhat;
    }
  }
}

__global__ void sum_partials_kernel(const float* partial, float* dw, int64_t blocks, int64_t cols) {
  const int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (j >= cols) return;
  float s = 0.0f;
  for (int64_t b = 0; b < blocks; ++b) s += partial[b * cols + j];
  dw[j] = s;
}

int64_t backward_blocks(int64_t rows) { return rows < kBackwardBlocks ? rows : kBackwardBlocks; }

}  // namespace

void rmsnorm_forward_cuda(DType dtype, const void* x, const float* w, void* y, float* rstd, int64_t rows, int64_t cols,
                          float eps, Stream stream) {
  if (rows == 0) return;
  KERNEL_CHECK(cols > 0, "RMSNorm over an empty dimension");
  with_element_type(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    rmsnorm_forward_kernel<T>
        <<<row_blocks(rows), kThreads, 0, stream>>>(static_cast<const T*>(x), w, static_cast<T*>(y), rstd, cols, eps);
  });
  CUDA_CHECK_LAUNCH();
}

int64_t rmsnorm_backward_workspace(int64_t rows, int64_t cols) { return backward_blocks(rows) * cols; }

void rmsnorm_backward_cuda(DType dtype, const void* dy, const void* x, const float* w, const float* rstd, void* dx,
                           float* dw, float* workspace, int64_t rows, int64_t cols, Stream stream) {
  if (cols == 0) return;
  if (rows == 0) {
    CUDA_CHECK(cudaMemsetAsync(dw, 0, static_cast<size_t>(cols) * sizeof(float), stream));
    return;
  }
  const int64_t blocks = backward_blocks(rows);
  with_element_type(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    rmsnorm_backward_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
        static_cast<const T*>(dy), static_cast<const T*>(x), w, rstd, static_cast<T*>(dx), workspace, rows, cols);
  });
  CUDA_CHECK_LAUNCH();
  sum_partials_kernel<<<static_cast<unsigned>((cols + kThreads - 1) / kThreads), kThreads, 0, stream>>>(workspace, dw,
                                                                                                        blocks, cols);
  CUDA_CHECK_LAUNCH();
}

}  // namespace dtbench::kernels
