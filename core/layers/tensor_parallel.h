// Tensor (and sequence) parallelism for layers (Megatron-LM's scheme; docs/ARCHITECTURE.md
// "Megatron-style"). A column-parallel linear holds a block of its weight's rows (output
// features), a row-parallel linear a block of its columns (input features), a
// vocabulary-parallel embedding a block of the vocabulary; at size 1 all of them are the
// plain layers. Activations cross between the replicated and the partitioned regions
// through conjugate autograd functions:
//   enter (before column-parallel layers): identity forward, all-reduce backward; with
//     sequence parallelism, all-gather along the sequence forward, reduce-scatter backward;
//   exit (after row-parallel layers and the vocabulary-parallel embedding): all-reduce
//     forward, identity backward; with sequence parallelism, reduce-scatter along the
//     sequence forward, all-gather backward.
// With sequence parallelism the residual stream, norms and dropout regions hold 1/tp of
// the sequence, and the gradients of replicated parameters (norms, row-parallel biases,
// position embeddings) are partial sums that the strategy all-reduces over the group.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace dtbench {

class Communicator;

struct TensorParallel {
  Communicator* comm = nullptr;  // nullptr: size 1, plain layers
  bool sequence_parallel = false;
  int64_t size() const;
  int64_t rank() const;
};

// How a parameter is split over the tensor-parallel group: along `dim` (-1: replicated)
// of the whole `shape`, this rank holding [offset, offset + its size) on that dim.
struct Sharding {
  int dim = -1;
  std::vector<int64_t> shape;
  int64_t offset = 0;
};

// [b, t, h] activations; with sequence parallelism t is this rank's share on the way in
// (enter) and on the way out (exit).
at::Tensor enter_parallel_region(const at::Tensor& x, const TensorParallel& tp);
at::Tensor exit_parallel_region(const at::Tensor& x, const TensorParallel& tp);

// The summed cross-entropy of `targets` [n] under logits whose vocabulary is split over
// the group: `logits` [n, v_local] (fp32) are columns [vocab_start, vocab_start + v_local)
// of the padded vocabulary, columns at or past `vocab` are padding and never count. The
// full logits are never built: max, sum of exponentials and the target's logit are
// all-reduced. Same value on every rank of the group.
at::Tensor vocab_parallel_cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets, int64_t vocab_start,
                                            int64_t vocab, const TensorParallel& tp);

}  // namespace dtbench
