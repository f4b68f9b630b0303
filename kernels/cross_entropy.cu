// Cross-entropy on CUDA: one block per row. Forward: each thread keeps an online (max, sum)
// over its strided entries — the block sweeps the vocabulary a blockDim-wide chunk at a time,
// reading each logit once — then the block merges the pairs in a fixed order.
#include "kernels/cross_entropy.h"
#include "kernels/cuda_common.cuh"

namespace dtbench::kernels {

namespace {

constexpr int kThreads = 512;

template <typename T>
__global__ void cross_entropy_forward_kernel(const T* logits, const int64_t* targets, float* loss, float* lse,
                                             int64_t vocab, int64_t ignore_index) {
  const T* x = logits + blockIdx.x * vocab;
  float m = -INFINITY, s = 0.0f;
  for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) online_add(m, s, load(x + j));
  block_merge(m, s);
  if (threadIdx.x != 0) return;
  const float l = m + logf(s);
  const int64_t t = targets[blockIdx.x];
  lse[blockIdx.x] = l;
  loss[blockIdx.x] = t == ignore_index ? 0.0f : (t < 0 || t >= vocab) ? NAN : l - load(x + t);
}

template <typename T>
__global__ void cross_entropy_backward_kernel(const T* logits, const int64_t* targets, const float* lse,
                                              const float* grad, T* dlogits, int64_t vocab, int64_t ignore_index) {
  const T* x = logits + blockIdx.x * vocab;
  T* d = dlogits + blockIdx.x * vocab;
  const int64_t t = targets[blockIdx.x];
  const bool ignored = t == ignore_index;
  const float l = lse[blockIdx.x], g = *grad;
  for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x)
    store(d + j, ignored ? 0.0f : (expf(load(x + j) - l) - (j == t ? 1.0f : 0.0f)) * g);
}

}  // namespace

void cross_entropy_forward_cuda(DType dtype, const void* logits, const int64_t* targets, float* loss, float* lse,
                                int64_t rows, int64_t vocab, int64_t ignore_index, Stream stream) {
  if (rows == 0) return;
  KERNEL_CHECK(vocab > 0, "cross-entropy over an empty vocabulary");
  with_element_type(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    cross_entropy_forward_kernel<T><<<row_blocks(rows), kThreads, 0, stream>>>(static_cast<const T*>(logits), targets,
                                                                               loss, lse, vocab, ignore_index);
  });
  CUDA_CHECK_LAUNCH();
}

void cross_entropy_backward_cuda(DType dtype, const void* logits, const int64_t* targets, const float* lse,
                                 const float* grad, void* dlogits, int64_t rows, int64_t vocab, int64_t ignore_index,
                                 Stream stream) {
  if (rows == 0) return;
  with_element_type(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    cross_entropy_backward_kernel<T><<<row_blocks(rows), kThreads, 0, stream>>>(
        static_cast<const T*>(logits), targets, lse, grad, static_cast<T*>(dlogits), vocab, ignore_index);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace dtbench::kernels
