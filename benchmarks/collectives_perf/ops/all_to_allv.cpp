// all_to_all with per-peer counts (MPI_Alltoallv; NCCL grouped send/recv), in nccl-tests'
// alltoallv pattern: a slot of count/n elements per peer, every slot full, busbw as
// all_to_all's ((n-1)/n of algbw). No in-place variant (nccl-tests checks none either).
#include <ATen/ATen.h>

#include "benchmarks/collectives_perf/collective.h"

namespace dtbench::collperf {

extern const Collective kAllToAllV = {
    "all_to_allv",
    false,
    false,
    InPlace::kNone,
    [](int64_t elems, int n, int64_t* send, int64_t* recv) { *send = *recv = elems / n * n; },
    [](int n) { return double(n - 1) / n; },
    [](const InputFn& in, int rank, int n, ReduceOp, int, int64_t count, int64_t) {
      const int64_t chunk = count / n;
      std::vector<at::Tensor> parts;
      for (int r = 0; r < n; ++r) parts.push_back(in(r, count).narrow(0, rank * chunk, chunk));
      return at::cat(parts);
    },
    [](Communicator& c, const at::Tensor& s, const at::Tensor& r, ReduceOp, int) {
      const std::vector<int64_t> counts(static_cast<std::size_t>(c.size()), s.numel() / c.size());
      return c.all_to_all(s, r, counts, counts);
    },
};

}  // namespace dtbench::collperf
