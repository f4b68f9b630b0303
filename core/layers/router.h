// Mixture-of-experts routing (Mixtral's): a replicated fp32 router, top-k experts per token
// with their probabilities renormalised to sum to one, dropless (every token reaches its k
// experts), and the load-balancing loss of Switch Transformer as Mixtral's code computes it.
// Pure tensor math here; the MoE block (core/model/moe.h) and the dispatch over an
// expert-parallel group (expert_parallel.h) use it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace dtbench {

struct Routing {
  at::Tensor experts;  // [n, k] int64: each token's experts, most probable first
  at::Tensor weights;  // [n, k] fp32: their probabilities over the k, summing to one
  at::Tensor probs;    // [n, E] fp32: the softmax over every expert
};

// `logits` [n, E] in fp32. Ties go to the lower expert index (a stable sort: topk promises
// no order among equal values), so every layout routes a token the same way.
Routing route(const at::Tensor& logits, int64_t k);

// Summed over the `sequences` (the n tokens are sequence-major) of the per-sequence
// load-balancing loss E · sum_e f_e · P_e, f_e the share of the sequence's tokens that
// chose expert e among their k, P_e the mean probability of e: k when perfectly balanced,
// up to E when every token puts all its probability on the same experts. Differentiable
// through P (f counts choices).
at::Tensor load_balancing_sum(const Routing& r, int64_t sequences);

// How often each of the E experts was chosen: [E] int64.
at::Tensor expert_counts(const Routing& r, int64_t experts);

}  // namespace dtbench
