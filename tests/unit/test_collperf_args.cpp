#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "benchmarks/collectives_perf/args.h"
#include "benchmarks/collectives_perf/collective.h"
#include "benchmarks/collectives_perf/nccl_json.h"
#include "core/report/errors.h"

using namespace dtbench;
using namespace dtbench::collperf;

namespace {
BenchArgs parse(std::vector<std::string> argv) {
  cxxopts::Options o("t");
  add_bench_flags(o);
  std::vector<char*> args{const_cast<char*>("t")};
  for (auto& a : argv) args.push_back(a.data());
  return read_bench_flags(o.parse(static_cast<int>(args.size()), args.data()));
}
}  // namespace

TEST_CASE("sizes step by -i bytes unless -f is given") {
  CHECK(message_sizes(parse({"-b", "8", "-e", "64", "-f", "2"})) == std::vector<int64_t>{8, 16, 32, 64});
  CHECK(message_sizes(parse({"-b", "1K", "-e", "3K", "-i", "1K"})) == std::vector<int64_t>{1024, 2048, 3072});
  CHECK(message_sizes(parse({"-b", "1M", "-e", "3M"})) == std::vector<int64_t>{1 << 20, 2 << 20, 3 << 20});
  CHECK(message_sizes(parse({"-b", "8", "-e", "100", "-f", "4"})) == std::vector<int64_t>{8, 32});
  CHECK(parse_size("-b", "64M") == 64 << 20);
  CHECK(parse_size("-b", "1G") == 1LL << 30);
}

TEST_CASE("bad flags are usage errors") {
  CHECK_THROWS_AS(parse({"-b", "0"}), UsageError);
  CHECK_THROWS_AS(parse({"-b", "1M", "-e", "8"}), UsageError);
  CHECK_THROWS_AS(parse({"-i", "8", "-f", "2"}), UsageError);
  CHECK_THROWS_AS(parse({"-f", "1"}), UsageError);
  CHECK_THROWS_AS(parse({"-b", "8", "-e", "64", "-i", "0"}), UsageError);
  CHECK_THROWS_AS(parse({"-n", "0"}), UsageError);
  CHECK_THROWS_AS(parse({"--op", "allreduce"}), UsageError);
  CHECK_THROWS_AS(parse({"-d", "uint32"}), UsageError);
  CHECK_THROWS_AS(parse({"-o", "xor"}), UsageError);
  CHECK_THROWS_AS(parse({"-b", "12Q"}), UsageError);
  CHECK(parse({"-d", "all"}).dtypes.size() == 6);
  CHECK(parse({"-o", "all"}).reduce_ops.size() == 5);
}

TEST_CASE("bus bandwidth factors are nccl-tests'") {
  CHECK(find_collective("all_reduce")->busbw_factor(4) == Approx(1.5));
  CHECK(find_collective("all_gather")->busbw_factor(4) == Approx(0.75));
  CHECK(find_collective("reduce_scatter")->busbw_factor(4) == Approx(0.75));
  CHECK(find_collective("all_to_all")->busbw_factor(4) == Approx(0.75));
  CHECK(find_collective("broadcast")->busbw_factor(4) == Approx(1));
  CHECK(find_collective("reduce")->busbw_factor(4) == Approx(1));
  CHECK(find_collective("send_recv")->busbw_factor(4) == Approx(1));
  int64_t s = 0, r = 0;
  find_collective("all_gather")->counts(1000, 3, &s, &r);
  CHECK(s == 333);
  CHECK(r == 999);
  find_collective("reduce_scatter")->counts(1000, 3, &s, &r);
  CHECK(s == 999);
  CHECK(r == 333);
}

TEST_CASE("-I's summary is nccl-tests': nearest-rank p95/p99, p50 = sorted[n/2], population stdev") {
  std::vector<double> v;
  for (int i = 20; i >= 1; --i) v.push_back(i);  // 1..20, unsorted
  const IterStats s = nccl_iter_stats(v);
  CHECK(s.min == 1);
  CHECK(s.max == 20);
  CHECK(s.p50 == 11);  // sorted[10]: the upper middle of an even count
  CHECK(s.p95 == 19);  // index min(19, (20 * 95 + 99) / 100 - 1) = 18
  CHECK(s.p99 == 20);  // fewer than 100 samples: the maximum
  CHECK(s.avg == Approx(10.5));
  CHECK(s.stdev == Approx(std::sqrt(399.0 / 12)));  // population: (n^2 - 1) / 12
  CHECK(s.cv_pct == Approx(std::sqrt(399.0 / 12) / 10.5 * 100));
  const IterStats one = nccl_iter_stats({7});
  CHECK(one.p50 == 7);
  CHECK(one.p99 == 7);
  CHECK(one.stdev == 0);
  CHECK(nccl_iter_stats({}).avg == 0);
}

TEST_CASE("-I takes nccl-tests' 0 or 1; -K needs -I 1 and K < -n; -J needs .json") {
  CHECK(parse({"-I", "1"}).iteration_times);
  CHECK_FALSE(parse({"-I", "0"}).iteration_times);
  CHECK_THROWS_AS(parse({"-I", "2"}), UsageError);
  CHECK(parse({"-n", "5", "-I", "1", "-K", "4"}).iter_skip == 4);
  CHECK_THROWS_AS(parse({"-n", "5", "-I", "1", "-K", "5"}), UsageError);
  CHECK_THROWS_AS(parse({"-n", "5", "-K", "1"}), UsageError);
  CHECK(parse({"-J", "out.json"}).json_out == "out.json");
  CHECK_THROWS_AS(parse({"-J", "out.jsn"}), UsageError);
  CHECK(parse({"-T", "30"}).timeout_s == 30);
}
