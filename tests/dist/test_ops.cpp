// Every op, every dtype, every reduction, sizes 0, 1, odd and large, in-place and
// out-of-place, checked against the expected values (exact for integers).
#include <catch2/catch.hpp>

#include "benchmarks/collectives_perf/collective.h"
#include "benchmarks/collectives_perf/engine.h"
#include "tests/dist/world_fixture.h"

using namespace dtbench;
using namespace dtbench::collperf;

namespace {

const std::vector<c10::ScalarType> kTypes{c10::kFloat, c10::kDouble, c10::kHalf, c10::kBFloat16, c10::kInt, c10::kLong};
const std::vector<ReduceOp> kOps{ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin, ReduceOp::kAvg};

void check_op(const char* name) {
  const Collective& c = *find_collective(name);
  Communicator& comm = test::comm();
  const int n = comm.size();
  // Per-rank sizes 0, 1 and odd for every dtype and reduction; then a large one (sum only).
  for (int64_t per_rank : {int64_t{0}, int64_t{1}, int64_t{1023}}) {
    for (auto t : kTypes) {
      for (auto op : c.uses_reduce_op ? kOps : std::vector<ReduceOp>{ReduceOp::kSum}) {
        for (int root : c.uses_root ? std::vector<int>{0, n - 1} : std::vector<int>{0}) {
          for (bool in_place : {false, true}) {
            if (in_place && c.in_place == InPlace::kNone) continue;
            INFO(name << " " << dtype_name(t) << " " << reduce_op_name(op) << " root " << root << " per-rank "
                      << per_rank << (in_place ? " in-place" : " out-of-place"));
            CHECK(run_checked(comm, c, t, op, root, per_rank * n, in_place) == 0);
          }
        }
      }
    }
  }
  for (auto t : kTypes) {
    for (bool in_place : {false, true}) {
      if (in_place && c.in_place == InPlace::kNone) continue;
      INFO(name << " " << dtype_name(t) << " large" << (in_place ? " in-place" : ""));
      CHECK(run_checked(comm, c, t, ReduceOp::kSum, 0, (int64_t{1} << 20) + int64_t{7} * n, in_place) == 0);
    }
  }
}

}  // namespace

TEST_CASE("all_reduce") { check_op("all_reduce"); }
TEST_CASE("all_gather") { check_op("all_gather"); }
TEST_CASE("reduce_scatter") { check_op("reduce_scatter"); }
TEST_CASE("broadcast") { check_op("broadcast"); }
TEST_CASE("reduce") { check_op("reduce"); }
TEST_CASE("all_to_all") { check_op("all_to_all"); }
TEST_CASE("all_to_allv") { check_op("all_to_allv"); }
TEST_CASE("send_recv") { check_op("send_recv"); }
