// The GEMMs of a transformer, listed once: the pinned model FLOPs (flops_per_token) are their
// sum, and the step-time predictor (core/predict) runs each at the rate of its size.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/config.h"

namespace dtbench {

// `count` GEMMs of an m x k by k x n product (2 m n k FLOPs each). A count can be a fraction:
// causal attention computes half of its products, and a router's GEMM is counted as a share
// on each of the tensor-parallel ranks it is replicated on.
struct Gemm {
  double m = 0, n = 0, k = 0, count = 1;
  double flops() const { return 2.0 * m * n * k * count; }
};

// One block's forward GEMMs on a rank that holds 1/tp of every matrix (heads, kv heads and
// ffn split) and experts/ep of a mixture's experts, for `micro_batch` sequences of `seq`
// tokens: q/k/v, the output projection, attention's two products per head (at half: causal),
// then the MLP's up (and gate) and down projections; a mixture of experts has its router and
// each local expert with its share of the expert group's routed tokens instead of the MLP.
std::vector<Gemm> block_gemms(const ModelConfig& c, int64_t micro_batch, int64_t seq, int64_t tp = 1, int64_t ep = 1);

// Their FLOPs, all counts included.
double flops_of(const std::vector<Gemm>& gemms);

// The logits layer's forward GEMM on such a rank (the vocabulary split over tp).
Gemm head_gemm(const ModelConfig& c, int64_t micro_batch, int64_t seq, int64_t tp = 1);

}  // namespace dtbench
