// The collectives_perf engine: buffers, timing, checking and the table for any Collective,
// the way nccl-tests' common.cu serves its per-collective files.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "benchmarks/collectives_perf/args.h"
#include "benchmarks/collectives_perf/collective.h"
#include "core/comm/communicator.h"
#include "core/report/stats.h"

namespace dtbench::collperf {

// One placement (out-of-place or in-place) of one row, as measured.
struct Placement {
  double time_us = 0, algbw = 0, busbw = 0;  // time per op, combined over ranks as -a says
  int64_t wrong = 0;                         // summed over ranks; 0 when not checked
  Summary samples_us;                        // this rank's samples (-I: after the first -K)
  double rank_min_us = 0, rank_max_us = 0;   // the ranks' mean times, min and max
  // -I: every rank's time per op of each iteration (all -n of them), world rank order.
  std::vector<std::vector<double>> iter_us;
};

struct Row {
  int64_t bytes = 0, count = 0;
  std::string type, redop;
  int root = -1;
  Placement out_of_place;
  std::optional<Placement> in_place;  // none where the collective has no in-place form
};

struct EngineResult {
  std::vector<Row> table;                         // every row, as measured
  nlohmann::json rows = nlohmann::json::array();  // the record's rows
  int64_t wrong = 0;                              // wrong elements over every row, rank and placement
  double busbw_sum = 0;                           // for the average bus bandwidth
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
