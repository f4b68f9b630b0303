// What every .cu file shares: element loads and stores (arithmetic is always fp32), block-wide
// reductions in a fixed order (so results are bit-reproducible run to run), and the step from
// a DType tag to a template instantiation.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/check.h"
#include "kernels/cuda_check.h"
#include "kernels/types.h"

namespace dtbench::kernels {

__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

constexpr int kWarp = 32;

// The sum of `v` over the block, returned to every thread. blockDim.x must be a multiple of
// 32 (at most 1024). Callable repeatedly: the leading barrier guards the shared slots.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float warp_sums[kWarp];
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  __syncthreads();
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x / kWarp) ? warp_sums[lane] : 0.0f;
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Online softmax statistics: (m, s) stands for s·exp(m), a running max and the sum of
// exp(x − m) below it. -inf logits (masked) contribute nothing.
__device__ __forceinline__ void online_add(float& m, float& s, float x) {
  if (x > m) {
    s = s * expf(m - x) + 1.0f;
    m = x;
  } else if (x != -INFINITY) {
    s += expf(x - m);
  }
}

__device__ __forceinline__ void online_merge(float& m, float& s, float m2, float s2) {
  if (m2 == -INFINITY) return;
  if (m == -INFINITY) {
    m = m2;
    s = s2;
    return;
  }
  const float top = fmaxf(m, m2);
  s = s * expf(m - top) + s2 * expf(m2 - top);
  m = top;
}

// Merges every thread's (m, s) over the block; every thread gets the result.
__device__ __forceinline__ void block_merge(float& m, float& s) {
  __shared__ float warp_m[kWarp], warp_s[kWarp];
  for (int o = kWarp / 2; o > 0; o /= 2)
    online_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  __syncthreads();
  if (lane == 0) {
    warp_m[warp] = m;
    warp_s[warp] = s;
  }
  __syncthreads();
  const bool live = lane < static_cast<int>(blockDim.x / kWarp);
  m = live ? warp_m[lane] : -INFINITY;
  s = live ? warp_s[lane] : 0.0f;
  for (int o = kWarp / 2; o > 0; o /= 2)
    online_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
}

// Calls f(TypeTag<T>{}) with T the element type `t` names.
template <typename T>
struct TypeTag {
  using type = T;
};
template <typename F>
void with_element_type(DType t, F&& f) {
  if (t == DType::kF32)
    f(TypeTag<float>{});
  else
    f(TypeTag<__nv_bfloat16>{});
}

// Blocks for an elementwise grid-stride loop over n items: enough to fill any current GPU,
// few enough that each thread does several items.
inline unsigned elementwise_blocks(int64_t n, int threads) {
  const int64_t want = (n + threads - 1) / threads;
  return static_cast<unsigned>(want < 65536 ? want : 65536);
}

// One block per row: the grid's x dimension caps the row count.
inline unsigned row_blocks(int64_t rows) {
  KERNEL_CHECK(rows <= 0x7fffffff, "more rows than one launch's grid holds");
  return static_cast<unsigned>(rows);
}

}  // namespace dtbench::kernels
