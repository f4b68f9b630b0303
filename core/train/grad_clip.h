// Global gradient-norm clipping. The norm covers every gradient of the model wherever it
// lives: each rank sums the squares of the gradients it owns (whole, a shard or a slice),
// the sum is all-reduced over the communicator that spans the owners (none in one process),
// and every rank scales by the same factor.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace dtbench {

class Communicator;

// Sum of squares of `grads` in fp64 (undefined tensors are skipped).
double local_grad_sq(const std::vector<at::Tensor>& grads);

// The global norm: sqrt of the sum over `comm` (nullptr: this process alone) of local_sq.
double global_grad_norm(double local_sq, Communicator* comm);

// Scales `grads` in place by min(1, max_norm / (norm + 1e-6)) and returns `norm`.
double clip_grads(const std::vector<at::Tensor>& grads, double norm, double max_norm);

}  // namespace dtbench
