// Neutral names for what the raw kernel APIs take, so that .cpp callers need no CUDA header:
// an element type tag instead of float / __nv_bfloat16, and the stream as CUDA's own handle
// type (cudaStream_t is a CUstream_st*), forward-declared.
#pragma once

#include <cstdint>

struct CUstream_st;

namespace dtbench::kernels {

enum class DType { kF32, kBF16 };

using Stream = CUstream_st*;  // cudaStream_t

inline const char* dtype_name(DType t) { return t == DType::kF32 ? "fp32" : "bf16"; }

}  // namespace dtbench::kernels
