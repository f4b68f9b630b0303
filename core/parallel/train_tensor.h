// The tensors a rank's optimizer updates, as a parallel strategy lays them out: what the
// training loop steps, what checkpoints store under the parameter's name and whole shape
// (so they load under any strategy, layout and world size), and what the gradient norm
// counts.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace dtbench {

// Which elements a piece holds: with `cols` 0, elements [start, start + count) of the
// flattened tensor; with `cols` > 0, elements [start, start + count) of the flattened block
// whole.view(-1, cols)[:, first : first + width] (row-major within the block).
struct ColumnBlock {
  int64_t cols = 0, first = 0, width = 0;
};

// A tensor the optimizer updates, as this rank holds it: a whole parameter (one process,
// DDP), elements [start, start + numel) of its flattened value (a slice of an FSDP shard, a
// tensor-parallel block of rows), or of its flattened `block` of columns (a row-parallel
// weight's block, or a distributed optimizer's range of one).
struct TrainTensor {
  std::string name;            // the module's parameter name
  at::Tensor value;            // updated in place by the optimizer
  std::vector<int64_t> shape;  // the whole parameter's shape
  int64_t start = 0;
  bool writer = true;  // this rank writes it to checkpoints (replicas: one of them alone)
  // Counts in the global gradient norm on this rank (a tensor replicated over the norm's
  // communicator counts on one of its ranks only).
  bool in_norm = true;
  ColumnBlock block;  // cols 0: start indexes the flattened parameter
};

}  // namespace dtbench
