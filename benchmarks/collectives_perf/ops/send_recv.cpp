#include "benchmarks/collectives_perf/collective.h"

namespace dtbench::collperf {

// A ring: every rank sends to the next and receives from the previous, as nccl-tests'
// sendrecv_perf does.
extern const Collective kSendRecv = {
    "send_recv",
    false,
    false,
    InPlace::kNone,
    [](int64_t elems, int, int64_t* send, int64_t* recv) { *send = *recv = elems; },
    [](int) { return 1.0; },
    [](const InputFn& in, int rank, int n, ReduceOp, int, int64_t count, int64_t) {
      return in((rank + n - 1) % n, count);
    },
    [](Communicator& c, const at::Tensor& s, const at::Tensor& r, ReduceOp, int) {
      const int n = c.size();
      return c.send_recv(s, (c.rank() + 1) % n, r, (c.rank() + n - 1) % n);
    },
};

}  // namespace dtbench::collperf
