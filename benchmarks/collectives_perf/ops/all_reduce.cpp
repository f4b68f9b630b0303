#include "benchmarks/collectives_perf/collective.h"

namespace dtbench::collperf {

extern const Collective kAllReduce = {
    "all_reduce",
    true,
    false,
    InPlace::kSame,
    [](int64_t elems, int, int64_t* send, int64_t* recv) { *send = *recv = elems; },
    [](int n) { return 2.0 * (n - 1) / n; },
    [](const InputFn& in, int, int n, ReduceOp op, int, int64_t count, int64_t) {
      return reduce_inputs(in, n, op, count);
    },
    [](Communicator& c, const at::Tensor& s, const at::Tensor& r, ReduceOp op, int) { return c.all_reduce(s, r, op); },
};

}  // namespace dtbench::collperf
