#include "benchmarks/collectives_perf/collective.h"

namespace dtbench::collperf {

extern const Collective kBroadcast = {
    "broadcast",
    false,
    true,
    InPlace::kSame,
    [](int64_t elems, int, int64_t* send, int64_t* recv) { *send = *recv = elems; },
    [](int) { return 1.0; },
    [](const InputFn& in, int, int, ReduceOp, int root, int64_t count, int64_t) { return in(root, count); },
    [](Communicator& c, const at::Tensor& s, const at::Tensor& r, ReduceOp, int root) {
      return c.broadcast(s, r, root);
    },
};

}  // namespace dtbench::collperf
