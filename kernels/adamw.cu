// Multi-tensor AdamW on CUDA. The host packs (tensor, chunk) work items into a launch's
// by-value argument block — pointers of up to kMaxTensors tensors and the map from each block
// to its chunk — and launches whenever one of the two tables is full, so that a model's few
// hundred parameters take a handful of launches instead of several kernels each.
#include "kernels/adamw.h"
#include "kernels/cuda_common.cuh"

namespace dtbench::kernels {

namespace {

constexpr int kThreads = 512;
constexpr int64_t kChunk = 65536;  // elements per block: 128 per thread
constexpr int kMaxTensors = 36;
constexpr int kMaxBlocks = 320;

// ~3 KiB: inside the 4 KiB that kernel arguments may take on every supported architecture.
struct AdamWLaunch {
  void* param[kMaxTensors];
  const void* grad[kMaxTensors];
  float* exp_avg[kMaxTensors];
  float* exp_avg_sq[kMaxTensors];
  int64_t numel[kMaxTensors];
  bool decay[kMaxTensors];
  uint8_t tensor_of_block[kMaxBlocks];
  int32_t chunk_of_block[kMaxBlocks];
};
static_assert(sizeof(AdamWLaunch) <= 4096, "kernel arguments are limited to 4 KiB");
static_assert(kMaxTensors <= 255, "tensor_of_block is a uint8_t");

template <typename P, typename G>
__global__ void adamw_kernel(AdamWLaunch L, AdamWScalars k, bool decaying) {
  const int t = L.tensor_of_block[blockIdx.x];
  const int64_t begin = L.chunk_of_block[blockIdx.x] * kChunk;
  const int64_t end = begin + kChunk < L.numel[t] ? begin + kChunk : L.numel[t];
  P* p = static_cast<P*>(L.param[t]);
  const G* g = static_cast<const G*>(L.grad[t]);
  float* m = L.exp_avg[t];
  float* v = L.exp_avg_sq[t];
  const bool decay = decaying && L.decay[t];
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    if (decay) store(p + i, load(p + i) * k.decay_factor);  // rounds a bf16 parameter, as p.mul_() does
    const float gi = load(g + i);
    const float mi = m[i] + k.lerp_weight * (gi - m[i]);  // ATen's lerp for weights below 0.5
    const float vi = v[i] * k.beta2 + k.one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    P update;  // m / denom in the parameter's type, as the ATen code has it before applying it
    store(&update, mi / (sqrtf(vi) / k.sqrt_bc2 + k.eps));
    store(p + i, load(p + i) - k.step_size * load(&update));
  }
}

}  // namespace

void adamw_step_cuda(DType param_dtype, DType grad_dtype, const AdamWTensor* tensors, int64_t count,
                     const AdamWHyper& hyper, Stream stream) {
  const AdamWScalars k = adamw_scalars(hyper);
  const bool decaying = hyper.weight_decay != 0.0;
  with_element_type(param_dtype, [&](auto ptag) {
    with_element_type(grad_dtype, [&](auto gtag) {
      using P = typename decltype(ptag)::type;
      using G = typename decltype(gtag)::type;
      AdamWLaunch L{};
      int tensors_in = 0, blocks_in = 0;
      auto flush = [&] {
        if (blocks_in > 0) {
          adamw_kernel<P, G><<<blocks_in, kThreads, 0, stream>>>(L, k, decaying);
          CUDA_CHECK_LAUNCH();
        }
        tensors_in = blocks_in = 0;
      };
      for (int64_t n = 0; n < count; ++n) {
        const AdamWTensor& a = tensors[n];
        const int64_t chunks = (a.numel + kChunk - 1) / kChunk;
        KERNEL_CHECK(chunks <= 0x7fffffff, "a tensor too large for the chunk table");
        int slot = -1;  // where tensor n sits in the current launch's tables
        for (int64_t c = 0; c < chunks; ++c) {
          if (slot < 0) {
            if (tensors_in == kMaxTensors) flush();
            slot = tensors_in++;
            L.param[slot] = a.param;
            L.grad[slot] = a.grad;
            L.exp_avg[slot] = a.exp_avg;
            L.exp_avg_sq[slot] = a.exp_avg_sq;
            L.numel[slot] = a.numel;
            L.decay[slot] = a.decay;
          }
          L.tensor_of_block[blocks_in] = static_cast<uint8_t>(slot);
          L.chunk_of_block[blocks_in] = static_cast<int32_t>(c);
          if (++blocks_in == kMaxBlocks) {
            flush();
            slot = -1;
          }
        }
      }
      flush();
    });
  });
}

}  // namespace dtbench::kernels
