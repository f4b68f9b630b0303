#include "benchmarks/collectives_perf/collective.h"

namespace dtbench::collperf {

extern const Collective kReduce = {
    "reduce",
    true,
    true,
    InPlace::kSame,
    [](int64_t elems, int, int64_t* send, int64_t* recv) { *send = *recv = elems; },
    [](int) { return 1.0; },
    [](const InputFn& in, int rank, int n, ReduceOp op, int root, int64_t count, int64_t) {
      // Only the root's receive buffer is defined after a reduce.
      return rank == root ? reduce_inputs(in, n, op, count) : at::Tensor();
    },
    [](Communicator& c, const at::Tensor& s, const at::Tensor& r, ReduceOp op, int root) {
      return c.reduce(s, r, root, op);
    },
};

}  // namespace dtbench::collperf
