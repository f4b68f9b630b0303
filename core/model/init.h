// Parameter initialization that is a pure function of (seed, parameter name, element
// index), drawn with ATen's Philox engine. A rank materialises only its own shard or slice,
// and every parallel layout starts from the same model (a 70B model is never generated
// whole on one rank).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace dtbench {

// Fills `out` (float or double, contiguous) with normal(0, std) values of the full
// parameter `name`'s flat elements [first, first + out.numel()).
void init_normal_slice(at::Tensor& out, uint64_t seed, const std::string& name, int64_t first, double std);

// The same for a strided slice of a 2-D parameter of `cols` columns: rows [row0, row0 +
// out.size(0)) and columns [col0, col0 + out.size(1)) (tensor-parallel shards).
void init_normal_block(at::Tensor& out, uint64_t seed, const std::string& name, int64_t cols, int64_t row0,
                       int64_t col0, double std);

// 64-bit FNV-1a of the name: the Philox subsequence of a parameter.
uint64_t parameter_stream(const std::string& name);

}  // namespace dtbench
