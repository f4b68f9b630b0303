// The SwiGLU product of the MLP (core/model/transformer.cpp): y = silu(gate) · up, with
// silu(g) = g·σ(g), fused with its backward:
//   dgate = dy · up · σ(g)·(1 + g·(1 − σ(g))),   dup = dy · silu(g).
#pragma once

#include "kernels/types.h"

namespace dtbench::kernels {

// gate, up, y, dy, dgate, dup: n elements of `dtype`, contiguous, the same shape.
void swiglu_forward_cuda(DType dtype, const void* gate, const void* up, void* y, int64_t n, Stream stream);
void swiglu_backward_cuda(DType dtype, const void* dy, const void* gate, const void* up, void* dgate, void* dup,
                          int64_t n, Stream stream);

// The CPU references (the ground truth), fp32 in and out, double arithmetic.
void swiglu_forward_ref(const float* gate, const float* up, float* y, int64_t n);
void swiglu_backward_ref(const float* dy, const float* gate, const float* up, float* dgate, float* dup, int64_t n);

}  // namespace dtbench::kernels
