#include "benchmarks/collectives_perf/args.h"

#include <fmt/format.h>

#include "benchmarks/collectives_perf/collective.h"
#include "core/report/errors.h"
#include "core/report/flag_number.h"

namespace dtbench::collperf {

void add_bench_flags(cxxopts::Options& o) {
  std::string ops;
  for (const Collective* c : all_collectives()) ops += (ops.empty() ? "" : "|") + std::string(c->name);
  const std::string group = "collectives_perf (nccl-tests' flags)";
  // clang-format off
  o.add_options(group)("op", ops, cxxopts::value<std::string>()->default_value("all_reduce"), "NAME");
  // clang-format on
  add_size_flags(o, group, SizeSweep{});
  add_profile_flag(o, "rows of the table (each one size of one dtype, reduction and root)");
  // clang-format off
  o.add_options(group)
      ("m,agg_iters", "ops per timed iteration", number<int>()->default_value("1"), "N")
      ("c,check", "check every result (0 = off)", number<int>()->default_value("1"), "0|1")
      ("d,datatype", "float|double|half|bfloat16|int32|int64|all", cxxopts::value<std::string>()->default_value("float"), "TYPE")
      ("o,redop", "sum|prod|max|min|avg|all", cxxopts::value<std::string>()->default_value("sum"), "OP")
      ("r,root", "root of broadcast and reduce; -1 = every rank in turn", number<int>()->default_value("0"), "R")
      ("a,average", "time reported: 0 rank 0, 1 mean, 2 min, 3 max over ranks", number<int>()->default_value("1"), "0-3")
      ("I,per_iter_timing", "1: time each iteration alone (a sync after each: the spread in the record, "
       "the per-iteration figures in -J's file); 0: nccl-tests' way, all iterations then one sync",
       number<int>()->default_value("0"), "0|1")
      ("K,per_iter_skip", "leading iterations left out of -I's summary (their times are kept)",
       number<int>()->default_value("0"), "K")
      ("J,output_file", "write nccl-tests' JSON (version 3, as nccl-tests 2.19 writes it) to FILE.json (rank 0)",
       cxxopts::value<std::string>()->default_value(""), "FILE")
      ("T,timeout", "seconds an op may take before the run exits 3 (nccl-tests' -T; 0: --comm-timeout's)",
       number<double>()->default_value("0"), "S");
  // clang-format on
}

BenchArgs read_bench_flags(const cxxopts::ParseResult& r) {
  BenchArgs a;
  a.op = r["op"].as<std::string>();
  if (!find_collective(a.op)) {
    std::string names;
    for (const Collective* c : all_collectives()) names += (names.empty() ? "" : ", ") + std::string(c->name);
    throw UsageError(fmt::format("--op {}: unknown collective; choose one of {}", a.op, names));
  }
  static_cast<SizeSweep&>(a) = read_size_flags(r);
  a.agg = r["agg_iters"].as<int>();
  DT_USAGE(a.agg >= 1, "-m {}: at least one op per iteration is needed", a.agg);
  a.check = r["check"].as<int>();
  DT_USAGE(a.check >= 0, "-c {}: use 1 to check results or 0 not to", a.check);
  a.root = r["root"].as<int>();
  DT_USAGE(a.root >= -1, "-r {}: a root is a rank (0 or more), or -1 for every rank", a.root);
  a.average = r["average"].as<int>();
  DT_USAGE(a.average >= 0 && a.average <= 3, "-a {}: use 0 (rank 0), 1 (mean), 2 (min) or 3 (max)", a.average);
  const int per_iter = r["per_iter_timing"].as<int>();
  DT_USAGE(per_iter == 0 || per_iter == 1, "-I {}: use 1 to time each iteration or 0 not to", per_iter);
  a.iteration_times = per_iter == 1;
  a.iter_skip = r["per_iter_skip"].as<int>();
  DT_USAGE(a.iter_skip == 0 || (a.iteration_times && a.iter_skip > 0 && a.iter_skip < a.iters),
           "-K {}: skipping leading iterations needs -I 1 and 0 <= K < -n ({})", a.iter_skip, a.iters);
  a.json_out = r["output_file"].as<std::string>();
  DT_USAGE(a.json_out.empty() || (a.json_out.size() > 5 && a.json_out.substr(a.json_out.size() - 5) == ".json"),
           "-J {}: the file's name must end in .json (nccl-tests writes JSON only then); e.g. -J {}.json", a.json_out,
           a.json_out);
  a.timeout_s = r["timeout"].as<double>();
  DT_USAGE(a.timeout_s >= 0, "-T {}: give the seconds an op may take, or 0 for --comm-timeout's", a.timeout_s);

  const std::string dt = r["datatype"].as<std::string>();
  if (dt == "all") {
    a.dtypes = {c10::kFloat, c10::kDouble, c10::kHalf, c10::kBFloat16, c10::kInt, c10::kLong};
  } else {
    auto t = parse_dtype(dt);
    DT_USAGE(t.has_value(),
             "-d {}: unknown or unsupported datatype; use float, double, half, bfloat16, int32, int64 or all", dt);
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

}  // namespace dtbench::collperf
