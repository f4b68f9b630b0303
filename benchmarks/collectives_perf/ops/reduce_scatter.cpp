#include "benchmarks/collectives_perf/collective.h"

namespace dtbench::collperf {

extern const Collective kReduceScatter = {
    "reduce_scatter",
    true,
    false,
    InPlace::kRecvIsSendChunk,
    [](int64_t elems, int n, int64_t* send, int64_t* recv) {
      *recv = elems / n;
      *send = *recv * n;
    },
    [](int n) { return double(n - 1) / n; },
    [](const InputFn& in, int rank, int n, ReduceOp op, int, int64_t send, int64_t recv) {
      return reduce_inputs(in, n, op, send).narrow(0, rank * recv, recv);
    },
    [](Communicator& c, const at::Tensor& s, const at::Tensor& r, ReduceOp op, int) {
      return c.reduce_scatter(s, r, op);
    },
};

}  // namespace dtbench::collperf
