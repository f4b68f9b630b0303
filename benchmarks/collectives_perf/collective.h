// What one collective supplies to the collectives_perf engine, as in nccl-tests: byte
// counts, where the in-place buffers sit, the bus-bandwidth factor, the expected result
// and the call. Everything else (flags, buffers, timing, checking, the table, the record)
// is the engine's.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

#include "core/comm/communicator.h"

namespace dtbench::collperf {

// How the in-place variant lays its buffers (nccl-tests' in-place offsets).
enum class InPlace {
  kSame,             // send is recv (all_reduce, broadcast, reduce, all_to_all)
  kSendIsRecvChunk,  // send is chunk `rank` of recv (all_gather)
  kRecvIsSendChunk,  // recv is chunk `rank` of send (reduce_scatter)
  kNone,             // no in-place variant (send_recv)
};

// Every rank's send buffer: values(r, count) is rank r's, as float64 values that are exact
// in every dtype; `integral` says whether the tested dtype is an integer type.
struct InputFn {
  std::function<at::Tensor(int r, int64_t count)> values;
  bool integral = false;
  at::Tensor operator()(int r, int64_t count) const { return values(r, count); }
};

struct Collective {
  const char* name;
  bool uses_reduce_op;
  bool uses_root;
  InPlace in_place;
  // Elements per rank of the send and receive buffers for a message of `elems` elements.
  void (*counts)(int64_t elems, int nranks, int64_t* send, int64_t* recv);
  double (*busbw_factor)(int nranks);
  // This rank's expected receive buffer (float64); undefined where nothing is checked.
  at::Tensor (*expected)(const InputFn& input, int rank, int nranks, ReduceOp op, int root, int64_t send, int64_t recv);
  std::shared_ptr<Work> (*run)(Communicator& comm, const at::Tensor& send, const at::Tensor& recv, ReduceOp op,
                               int root);
};

// Every collective, in the order of --op's help.
const std::vector<const Collective*>& all_collectives();
const Collective* find_collective(const std::string& name);

// Shared by the descriptors: reduce every rank's input with `op` in float64 (avg of
// integer types truncates, as the backends do).
at::Tensor reduce_inputs(const InputFn& input, int nranks, ReduceOp op, int64_t count);

}  // namespace dtbench::collperf
