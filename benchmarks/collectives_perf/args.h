// collectives_perf's own flags, nccl-tests' meaning: -b -e -i -f -n -w -c -d -o -r -m -a -I -K
// -J -T.
#pragma once

#include <c10/core/ScalarType.h>
#include <cxxopts.hpp>

#include <string>
#include <vector>

#include "core/app/size_sweep.h"
#include "core/comm/types.h"
#include "core/train/profile_window.h"

namespace dtbench::collperf {

struct BenchArgs : SizeSweep {
  std::string op = "all_reduce";  // --op: the collective
  int agg = 1;
  int check = 1;                 // -c: check results (0 = off)
  int root = 0;                  // -r: -1 = every root in turn
  int average = 1;               // -a: 0 rank 0, 1 mean, 2 min, 3 max over ranks
  bool iteration_times = false;  // -I 1: time each iteration alone (else nccl-tests' one batch)
  int iter_skip = 0;             // -K: leading iterations left out of -I's summary
  std::string json_out;          // -J: nccl-tests' JSON file (its name ends in .json)
  double timeout_s = 0;          // -T: per-op timeout in seconds (0: --comm-timeout's)
  std::vector<c10::ScalarType> dtypes{c10::kFloat};
  std::vector<ReduceOp> reduce_ops{ReduceOp::kSum};
  StepRange profile;  // --profile-steps: rows of the table (read once the world size is known)
};

void add_bench_flags(cxxopts::Options& options);

// Reads and validates; throws UsageError (exit 2) with the cause and the fix.
BenchArgs read_bench_flags(const cxxopts::ParseResult& r);

using dtbench::message_sizes;
using dtbench::parse_size;

}  // namespace dtbench::collperf
