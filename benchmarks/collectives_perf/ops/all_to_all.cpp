// all_to_all, and all_to_allv: the Communicator's all_to_all with per-peer counts
// (MPI_Alltoallv; NCCL grouped send/recv at each peer's offset) in nccl-tests' alltoallv
// pattern, a slot of count/n elements per peer, every slot full. Both share the byte counts,
// the busbw factor ((n-1)/n) and the expected result; all_to_allv has no in-place variant
// (nccl-tests checks none either).
#include <ATen/ATen.h>

#include "benchmarks/collectives_perf/collective.h"

namespace dtbench::collperf {

namespace {

void counts(int64_t elems, int n, int64_t* send, int64_t* recv) { *send = *recv = elems / n * n; }

double busbw_factor(int n) { return double(n - 1) / n; }

at::Tensor expected(const InputFn& in, int rank, int n, ReduceOp, int, int64_t count, int64_t) {
  const int64_t chunk = count / n;
  std::vector<at::Tensor> parts;
  for (int r = 0; r < n; ++r) parts.push_back(in(r, count).narrow(0, rank * chunk, chunk));
  return at::cat(parts);
}

}  // namespace

extern const Collective kAllToAll = {
    "all_to_all",
    false,
    false,
    InPlace::kSame,
    counts,
    busbw_factor,
    expected,
    [](Communicator& c, const at::Tensor& s, const at::Tensor& r, ReduceOp, int) { return c.all_to_all(s, r); },
};

extern const Collective kAllToAllV = {
    "all_to_allv",
    false,
    false,
    InPlace::kNone,
    counts,
    busbw_factor,
    expected,
    [](Communicator& c, const at::Tensor& s, const at::Tensor& r, ReduceOp, int) {
      const std::vector<int64_t> per_peer(static_cast<std::size_t>(c.size()), s.numel() / c.size());
      return c.all_to_all(s, r, per_peer, per_peer);
    },
};

}  // namespace dtbench::collperf
