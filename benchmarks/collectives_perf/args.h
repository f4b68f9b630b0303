// collectives_perf's own flags, nccl-tests' meaning: -b -e -i -f -n -w -c -d -o -r -m -a.
#pragma once

#include <c10/core/ScalarType.h>
#include <cxxopts.hpp>

#include <string>
#include <vector>

#include "core/comm/types.h"

namespace dtbench::collperf {

struct BenchArgs {
  std::string op = "all_reduce";  // --op: the collective
  int64_t min_bytes = 32 << 20, max_bytes = 32 << 20;
  int64_t step_bytes = 1 << 20;    // -i, unless -f is given
  int64_t step_factor = 0;         // -f; 0 = step by bytes
  int iters = 20, warmup = 1, agg = 1;
  int check = 1;                   // -c: check results (0 = off)
  int root = 0;                    // -r: -1 = every root in turn
  int average = 1;                 // -a: 0 rank 0, 1 mean, 2 min, 3 max over ranks
  std::vector<c10::ScalarType> dtypes{c10::kFloat};
  std::vector<ReduceOp> reduce_ops{ReduceOp::kSum};
};

void add_bench_flags(cxxopts::Options& options);

// Reads and validates; throws UsageError (exit 2) with the cause and the fix.
BenchArgs read_bench_flags(const cxxopts::ParseResult& r);

// "64M" -> 67108864; K, M, G are powers of 1024 as in nccl-tests.
int64_t parse_size(const std::string& flag, const std::string& text);

// Message sizes from -b to -e stepping by -i bytes or by the factor -f.
std::vector<int64_t> message_sizes(const BenchArgs& a);

}  // namespace dtbench::collperf
