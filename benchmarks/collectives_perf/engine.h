// The collectives_perf engine: buffers, timing, checking and the table for any Collective,
// the way nccl-tests' common.cu serves its per-collective files.
#pragma once

#include <nlohmann/json.hpp>

#include "benchmarks/collectives_perf/args.h"
#include "benchmarks/collectives_perf/collective.h"
#include "core/comm/communicator.h"

namespace dtbench::collperf {

struct EngineResult {
  nlohmann::json rows = nlohmann::json::array();
  int64_t wrong = 0;     // wrong elements over every row, rank and placement
  double busbw_sum = 0;  // for the average bus bandwidth
  int busbw_n = 0;
};

// The rows of the table run_engine prints (dtypes x reductions x roots x sizes): the "steps"
// of --profile-steps.
int64_t row_count(const Collective& coll, const BenchArgs& args, int world_size);

// Runs every size, dtype, reduction and root of `args` for `coll` on `comm`; rank 0
// prints nccl-tests' table to stdout as rows complete. Rows args.profile run inside the CUDA
// profiler's window (core/train/profile_window.h).
EngineResult run_engine(Communicator& comm, const Collective& coll, const BenchArgs& args);

// One checked run of `coll` with buffers for `elems` elements (before the per-rank split):
// fresh data, one op, compared with the expected result. Returns the number of wrong
// elements summed over ranks; collective.
int64_t run_checked(Communicator& comm, const Collective& coll, c10::ScalarType dtype, ReduceOp op, int root,
                    int64_t elems, bool in_place);

// About the most bytes one rank holds at once in the sweep: both buffers at the largest size
// and, when checking, the float64 inputs and expected values. Computed in double (a count
// times the ranks can pass int64), to refuse a sweep that cannot fit before allocating.
double peak_buffer_bytes(const Collective& coll, const BenchArgs& args, int nranks);

// Prints the table's header lines (rank 0).
void print_table_header();

}  // namespace dtbench::collperf
