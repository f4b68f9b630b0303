#include <catch2/catch.hpp>

#include "benchmarks/collectives_perf/args.h"
#include "benchmarks/collectives_perf/collective.h"
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
