#include <ATen/ATen.h>

#include "benchmarks/collectives_perf/collective.h"

namespace dtbench::collperf {

extern const Collective kAllToAll = {
    "all_to_all",
    false,
    false,
    InPlace::kSame,
    [](int64_t elems, int n, int64_t* send, int64_t* recv) { *send = *recv = elems / n * n; },
    [](int n) { return double(n - 1) / n; },
    [](const InputFn& in, int rank, int n, ReduceOp, int, int64_t count, int64_t) {
      const int64_t chunk = count / n;
      std::vector<at::Tensor> parts;
      for (int r = 0; r < n; ++r) parts.push_back(in(r, count).narrow(0, rank * chunk, chunk));
      return at::cat(parts);
    },
    [](Communicator& c, const at::Tensor& s, const at::Tensor& r, ReduceOp, int) { return c.all_to_all(s, r); },
};

}  // namespace dtbench::collperf
