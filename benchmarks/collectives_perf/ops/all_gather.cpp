#include <ATen/ATen.h>

#include "benchmarks/collectives_perf/collective.h"

namespace dtbench::collperf {

extern const Collective kAllGather = {
    "all_gather",
    false,
    false,
    InPlace::kSendIsRecvChunk,
    [](int64_t elems, int n, int64_t* send, int64_t* recv) {
      *send = elems / n;
      *recv = *send * n;
    },
    [](int n) { return double(n - 1) / n; },
    [](const InputFn& in, int, int n, ReduceOp, int, int64_t send, int64_t) {
      std::vector<at::Tensor> parts;
      for (int r = 0; r < n; ++r) parts.push_back(in(r, send));
      return at::cat(parts);
    },
    [](Communicator& c, const at::Tensor& s, const at::Tensor& r, ReduceOp, int) { return c.all_gather(s, r); },
};

}  // namespace dtbench::collperf
