// Activation checkpointing for one transformer block (libtorch's C++ API has none): forward
// runs without keeping the block's activations, only its input; backward runs the block
// again under grad mode and differentiates it (torch::autograd::grad), returning the
// gradients of the input and of every parameter of the block to the outer graph.
//
// The differentiation runs inside a RecomputeScope (core/layers/recompute_scope.h), so
// gradient hooks can tell it from the outer graph's.
#pragma once

#include <ATen/ATen.h>

#include "core/model/rope.h"

namespace dtbench {

class BlockImpl;

at::Tensor checkpointed_block(BlockImpl& block, const at::Tensor& x, const RopeTables* rope);

}  // namespace dtbench
