// RMSNorm over the last dimension, as core/layers/norm.h computes it: in fp32 whatever x's
// type, y = x · rsqrt(mean(x²) + eps) · w, y in x's type. Backward gives dx and dw.
#pragma once

#include "kernels/types.h"

namespace dtbench::kernels {

// x, y, dy, dx: [rows, cols] of `dtype`, contiguous. w, dw: [cols] fp32. rstd: [rows] fp32,
// written by forward for backward.
void rmsnorm_forward_cuda(DType dtype, const void* x, const float* w, void* y, float* rstd, int64_t rows, int64_t cols,
                          float eps, Stream stream);

// Floats of scratch rmsnorm_backward_cuda needs: partial dw sums of a fixed number of blocks,
// added in a fixed order afterwards, so that dw is the same every run (no atomics).
int64_t rmsnorm_backward_workspace(int64_t rows, int64_t cols);

void rmsnorm_backward_cuda(DType dtype, const void* dy, const void* x, const float* w, const float* rstd, void* dx,
                           float* dw, float* workspace, int64_t rows, int64_t cols, Stream stream);

// The CPU references (the ground truth): fp32 in and out, double accumulation.
void rmsnorm_forward_ref(const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t cols, float eps);
void rmsnorm_backward_ref(const float* dy, const float* x, const float* w, const float* rstd, float* dx, float* dw,
                          int64_t rows, int64_t cols);

}  // namespace dtbench::kernels
