// Rotary position embedding, as core/model/rope.cpp applies it (rotate-half convention):
//   y = x·cos + cat(−x2, x1)·sin,  x1, x2 the first and second halves of the last dimension,
// cos and sin fp32 tables [≥ seq, head_dim], row t for position t. Backward is the transpose
// of that map (a rotation by −angle when the two halves of each table row agree, as they do).
#pragma once

#include "kernels/types.h"

namespace dtbench::kernels {

// x: [batch, heads, seq, head_dim] with unit stride in head_dim and any strides elsewhere
// (the model's q and k are transposed views of [batch, seq, heads, head_dim]).
struct RopeShape {
  int64_t batch = 0, heads = 0, seq = 0, head_dim = 0;
  int64_t in_stride[3] = {0, 0, 0};   // elements per step in batch, heads, seq of the input
  int64_t out_stride[3] = {0, 0, 0};  // the same for the output
};

// transpose = false: y = rope(x). transpose = true: dx = ropeᵀ(dy), the backward.
void rope_cuda(DType dtype, const void* in, const float* cos, const float* sin, void* out, const RopeShape& shape,
               bool transpose, Stream stream);

// The CPU reference (the ground truth): fp32, the same layout rules.
void rope_ref(const float* in, const float* cos, const float* sin, float* out, const RopeShape& shape, bool transpose);

}  // namespace dtbench::kernels
