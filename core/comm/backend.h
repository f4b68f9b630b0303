// A backend runs the op calls of one communicator: MPI on CPU tensors, NCCL on CUDA
// tensors. Ordering, sequence numbers, validation, split bookkeeping and the watchdog
// live in Communicator; a backend only issues ops, in the order it receives them.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "core/comm/types.h"
#include "core/comm/work.h"

namespace dtbench {

// One op. `in`/`out` alias for in-place ops (see Communicator for each op's layout).
struct OpArgs {
  OpType type = OpType::kBarrier;
  ReduceOp reduce = ReduceOp::kSum;
  at::Tensor in, out;
  int root = 0;  // broadcast, reduce
  int dst = -1;  // send, send_recv
  int src = -1;  // recv, send_recv
  // all_to_allv: elements to each rank (in's chunks, in rank order) and from each (out's).
  std::vector<int64_t> in_counts, out_counts;
  // Set by the Communicator: what every rank must agree on, "'world' #17 all_reduce float x
  // 1024 sum (step 3 / optimizer)": op, sequence number, signature and the spans it was issued
  // in (a backend whose exchanges can carry it for free checks it).
  std::string tag;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Where its tensors live: the CPU, or cuda:<local rank> for nccl (the Communicator refuses others).
  virtual at::Device device() const = 0;
  // Starts `args`; ops complete in the order they were started.
  virtual std::shared_ptr<Work> start(OpArgs args) = 0;
  // Collective over this backend, after all ops started before it; nullptr for color < 0.
  virtual std::unique_ptr<Backend> split(int color, int key) = 0;
};

}  // namespace dtbench
