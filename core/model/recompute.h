// Activation checkpointing for one transformer block (libtorch's C++ API has none): forward
// runs without keeping the block's activations, only its input; backward runs the block
// again under grad mode and differentiates it (torch::autograd::grad), returning the
// gradients of the input and of every parameter of the block to the outer graph.
//
// Gradient hooks on parameters also fire inside that inner differentiation; in_recompute()
// is true there, and hooks that act on gradients (DDP, FSDP) must ignore those calls: the
// same gradients reach them again when the outer graph delivers them.
#pragma once

#include <ATen/ATen.h>

#include "core/model/rope.h"

namespace dtbench {

class BlockImpl;

at::Tensor checkpointed_block(BlockImpl& block, const at::Tensor& x, const RopeTables* rope);

bool in_recompute();

}  // namespace dtbench
