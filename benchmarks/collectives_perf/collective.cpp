#include "benchmarks/collectives_perf/collective.h"

#include <ATen/ATen.h>

namespace dtbench::collperf {

extern const Collective kAllReduce, kAllGather, kReduceScatter, kBroadcast, kReduce, kAllToAll, kAllToAllV, kSendRecv;

const std::vector<const Collective*>& all_collectives() {
  static const std::vector<const Collective*> all = {&kAllReduce, &kAllGather, &kReduceScatter, &kBroadcast,
                                                     &kReduce,    &kAllToAll,  &kAllToAllV,     &kSendRecv};
  return all;
}

const Collective* find_collective(const std::string& name) {
  for (const Collective* c : all_collectives())
    if (name == c->name) return c;
  return nullptr;
}

at::Tensor reduce_inputs(const InputFn& input, int nranks, ReduceOp op, int64_t count) {
  at::Tensor acc = input(0, count).clone();
  for (int r = 1; r < nranks; ++r) {
    at::Tensor x = input(r, count);
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg:
        acc.add_(x);
        break;
      case ReduceOp::kProd:
        acc.mul_(x);
        break;
      case ReduceOp::kMax:
        acc = at::maximum(acc, x);
        break;
      case ReduceOp::kMin:
        acc = at::minimum(acc, x);
        break;
    }
  }
  if (op == ReduceOp::kAvg) acc = input.integral ? acc.div(nranks, "trunc") : acc.div(nranks);
  return acc;
}

}  // namespace dtbench::collperf
