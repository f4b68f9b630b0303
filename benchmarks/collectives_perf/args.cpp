#include "benchmarks/collectives_perf/args.h"

#include <fmt/format.h>

#include "benchmarks/collectives_perf/collective.h"
#include "core/report/errors.h"

namespace dtbench::collperf {

void add_bench_flags(cxxopts::Options& o) {
  std::string ops;
  for (const Collective* c : all_collectives()) ops += (ops.empty() ? "" : "|") + std::string(c->name);
  o.add_options("collectives_perf (nccl-tests' flags)")
      ("op", ops, cxxopts::value<std::string>()->default_value("all_reduce"), "NAME")
      ("b,minbytes", "smallest message, bytes (K, M, G suffixes)", cxxopts::value<std::string>()->default_value("32M"), "SIZE")
      ("e,maxbytes", "largest message, bytes", cxxopts::value<std::string>()->default_value("32M"), "SIZE")
      ("i,stepbytes", "step between sizes, bytes (default 1M; not with -f)", cxxopts::value<std::string>(), "SIZE")
      ("f,stepfactor", "multiply sizes by F (>= 2; not with -i)", cxxopts::value<int64_t>(), "F")
      ("n,iters", "timed iterations per size", cxxopts::value<int>()->default_value("20"), "N")
      ("w,warmup_iters", "untimed iterations first", cxxopts::value<int>()->default_value("1"), "N")
      ("m,agg_iters", "ops per timed iteration", cxxopts::value<int>()->default_value("1"), "N")
      ("c,check", "check every result (0 = off)", cxxopts::value<int>()->default_value("1"), "0|1")
      ("d,datatype", "float|double|half|bfloat16|int32|int64|all", cxxopts::value<std::string>()->default_value("float"), "TYPE")
      ("o,redop", "sum|prod|max|min|avg|all", cxxopts::value<std::string>()->default_value("sum"), "OP")
      ("r,root", "root of broadcast and reduce; -1 = every rank in turn", cxxopts::value<int>()->default_value("0"), "R")
      ("a,average", "time reported: 0 rank 0, 1 mean, 2 min, 3 max over ranks", cxxopts::value<int>()->default_value("1"), "0-3");
}

int64_t parse_size(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  int64_t mult = 1;
  std::string rest = text.substr(used);
  if (rest == "K" || rest == "k") mult = 1LL << 10;
  else if (rest == "M" || rest == "m") mult = 1LL << 20;
  else if (rest == "G" || rest == "g") mult = 1LL << 30;
  else if (!rest.empty()) used = 0;
  DT_USAGE(used > 0, "{} {}: not a size; write bytes with an optional K, M or G suffix (e.g. 8, 64K, 1G)", flag, text);
  return v * mult;
}

BenchArgs read_bench_flags(const cxxopts::ParseResult& r) {
  BenchArgs a;
  a.op = r["op"].as<std::string>();
  if (!find_collective(a.op)) {
    std::string names;
    for (const Collective* c : all_collectives()) names += (names.empty() ? "" : ", ") + std::string(c->name);
    throw UsageError(fmt::format("--op {}: unknown collective; choose one of {}", a.op, names));
  }
  a.min_bytes = parse_size("-b", r["minbytes"].as<std::string>());
  a.max_bytes = parse_size("-e", r["maxbytes"].as<std::string>());
  DT_USAGE(a.min_bytes > 0 && a.max_bytes > 0, "-b {} -e {}: sizes must be positive; e.g. -b 8 -e 64M",
           a.min_bytes, a.max_bytes);
  DT_USAGE(a.min_bytes <= a.max_bytes, "-b {} is above -e {}: the sizes are reversed; swap them", a.min_bytes,
           a.max_bytes);
  const bool has_i = r.count("stepbytes") > 0, has_f = r.count("stepfactor") > 0;
  DT_USAGE(!(has_i && has_f), "-i and -f both given: step sizes either by bytes (-i) or by a factor (-f), not both");
  if (has_f) {
    a.step_factor = r["stepfactor"].as<int64_t>();
    DT_USAGE(a.step_factor >= 2, "-f {}: a step factor below 2 never grows the size; use -f 2 or more",
             a.step_factor);
  }
  if (has_i) a.step_bytes = parse_size("-i", r["stepbytes"].as<std::string>());
  DT_USAGE(has_f || a.step_bytes > 0 || a.min_bytes == a.max_bytes,
           "-i {}: a zero step never reaches -e; give -i > 0 or a factor with -f", a.step_bytes);
  a.iters = r["iters"].as<int>();
  a.warmup = r["warmup_iters"].as<int>();
  a.agg = r["agg_iters"].as<int>();
  DT_USAGE(a.iters >= 1, "-n {}: at least one timed iteration is needed", a.iters);
  DT_USAGE(a.warmup >= 0, "-w {}: warm-up iterations cannot be negative", a.warmup);
  DT_USAGE(a.agg >= 1, "-m {}: at least one op per iteration is needed", a.agg);
  a.check = r["check"].as<int>();
  DT_USAGE(a.check >= 0, "-c {}: use 1 to check results or 0 not to", a.check);
  a.root = r["root"].as<int>();
  DT_USAGE(a.root >= -1, "-r {}: a root is a rank (0 or more), or -1 for every rank", a.root);
  a.average = r["average"].as<int>();
  DT_USAGE(a.average >= 0 && a.average <= 3, "-a {}: use 0 (rank 0), 1 (mean), 2 (min) or 3 (max)", a.average);

  const std::string dt = r["datatype"].as<std::string>();
  if (dt == "all") {
    a.dtypes = {c10::kFloat, c10::kDouble, c10::kHalf, c10::kBFloat16, c10::kInt, c10::kLong};
  } else {
    auto t = parse_dtype(dt);
    DT_USAGE(t.has_value(), "-d {}: unknown or unsupported datatype; use float, double, half, bfloat16, int32, int64 or all",
             dt);
    a.dtypes = {*t};
  }
  const std::string ro = r["redop"].as<std::string>();
  if (ro == "all") {
    a.reduce_ops = {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin, ReduceOp::kAvg};
  } else {
    auto op = parse_reduce_op(ro);
    DT_USAGE(op.has_value(), "-o {}: unknown reduction; use sum, prod, max, min, avg or all", ro);
    a.reduce_ops = {*op};
  }
  return a;
}

std::vector<int64_t> message_sizes(const BenchArgs& a) {
  std::vector<int64_t> sizes;
  for (int64_t s = a.min_bytes; s <= a.max_bytes;) {
    sizes.push_back(s);
    const int64_t next = a.step_factor >= 2 ? s * a.step_factor : s + a.step_bytes;
    if (next <= s) break;  // -i 0 with -b == -e
    s = next;
  }
  return sizes;
}

}  // namespace dtbench::collperf
