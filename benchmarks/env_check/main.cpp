// env_check: is this node (or every node of an allocation) what we think it is? Versions,
// devices, limits, the EFA/NCCL environment, and with --collectives a first checked NCCL run
// across the local GPUs. A verdict per check, a table, a record; an unmet --expect or any
// failed check exits 4 and lists them. Under mpirun or Slurm every rank checks its node and
// rank 0 flags the values that differ between nodes. With --sweep it also finds bad nodes
// (sweep.h): each node's GEMM and memory rates, every pair's link, a verdict and an --exclude
// list.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "benchmarks/env_check/check.h"
#include "benchmarks/env_check/sweep.h"
#include "core/app/failed_run_record.h"
#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/app/run_record.h"
#include "core/app/size_sweep.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/result.h"
#include "core/report/system_info.h"

using namespace dtbench;
using namespace dtbench::envcheck;

namespace {

std::vector<Check> local_checks(const Expectations& expect, bool collectives, double timeout_s) {
  Facts f;
  std::vector<Check> checks;
  probe_system(f, checks);
  probe_fabric(f, checks);
  probe_gpus(f, checks);
  probe_nccl(f, checks);
  probe_environment(f, checks);
  if (collectives) run_gpu_collectives(f, timeout_s, checks);
  check_expectations(expect, f, checks);
  return checks;
}

// One "differs" check per check whose value is not the same on every rank, naming who has what.
std::vector<Check> differences(const std::vector<std::vector<Check>>& per_rank, const std::vector<std::string>& hosts) {
  std::vector<Check> out;
  std::map<std::string, std::map<std::string, std::vector<int>>> seen;  // name -> value -> ranks
  std::map<std::string, int> names;  // a check some ranks lack differs too ("absent")
  for (const auto& checks : per_rank)
    for (const Check& c : checks) names[c.name] = 0;
  for (size_t r = 0; r < per_rank.size(); ++r)
    for (const auto& [name, unused] : names) {
      std::string v = "absent";
      for (const Check& c : per_rank[r])
        if (c.name == name) v = c.value.dump();
      seen[name][v].push_back(static_cast<int>(r));
    }
  for (const auto& [name, values] : seen) {
    if (values.size() < 2) continue;
    std::string detail;
    nlohmann::json value = nlohmann::json::object();
    for (const auto& [v, ranks] : values) {
      detail += fmt::format("{}{} on {} (rank {}{})", detail.empty() ? "" : "; ", v, hosts[ranks[0]], ranks[0],
                            ranks.size() > 1 ? fmt::format(" and {} more", ranks.size() - 1) : "");
      value[v] = ranks;
    }
    out.push_back(fail(name + " differs", value, detail));
  }
  return out;
}

void print_table(const std::vector<Check>& checks) {
  std::printf("  %-28s %-7s %-34s %s\n", "check", "verdict", "value", "detail");
  for (const Check& c : checks) {
    std::string v = c.value.is_string() ? c.value.get<std::string>() : c.value.dump();
    if (v.size() > 34) v = v.substr(0, 31) + "...";
    std::printf("  %-28s %-7s %-34s %s\n", c.name.c_str(), c.verdict.c_str(), v.c_str(), c.detail.c_str());
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("env_check", [&] {
    cxxopts::Options options("env_check",
                             "Checks this node's GPUs, NCCL and its net plugin, libfabric and EFA, MPI, limits and the "
                             "EFA/NCCL environment. Under mpirun or srun every node is checked and differences are "
                             "flagged. Exit 4 when a check fails or an --expect is unmet.");
    add_common_flags(options);
    // clang-format off
    options.add_options("env_check")
        ("expect", "what must be found: instance=p5.48xlarge, gpus=8, efa=32 (repeatable)",
         cxxopts::value<std::vector<std::string>>(), "K=V")
        ("collectives", "also run a checked NCCL all_reduce, all_gather and reduce_scatter across the local GPUs")
        ("sweep", "find bad nodes: each node's GEMM and memory rates (local rank 0), every pair of nodes' "
         "send/recv bandwidth and latency in rounds of disjoint pairs; exit 4 naming the nodes to --exclude")
        ("sweep-seconds", "each node probe's duration", cxxopts::value<double>()->default_value("1"), "S")
        ("sweep-bytes", "the point-to-point message (K, M, G); default 4M on CPU, 64M on GPU",
         cxxopts::value<std::string>()->default_value(""), "BYTES")
        ("sweep-margin", "flag a node or link below (1 - margin) x the median",
         cxxopts::value<double>()->default_value("0.25"), "M")
        ("sweep-serial", "probe the nodes' GEMM and memory one node at a time (nodes that share CPUs: VMs on one host)")
        ("sweep-gemm-sizes", "also the GEMM rate at these n x n x n (planner --calibrate's rate by size), e.g. "
                             "256,512,1024; default 1024,2048,4096,8192 on a GPU, none on a CPU",
         cxxopts::value<std::string>()->default_value(""), "N,N,...");
    // clang-format on
    auto flags = parse_flags(options, argc, argv);
    CommonArgs common = read_common_flags(flags);
    const Expectations expect = parse_expectations(
        flags.count("expect") ? flags["expect"].as<std::vector<std::string>>() : std::vector<std::string>{});
    const bool collectives = flags["collectives"].as<bool>();
    const bool sweep = flags["sweep"].as<bool>();
    SweepOptions sweep_opt;
    sweep_opt.seconds = flags["sweep-seconds"].as<double>();
    sweep_opt.margin = flags["sweep-margin"].as<double>();
    sweep_opt.serial = flags["sweep-serial"].as<bool>();
    sweep_opt.gemm_sizes = parse_count_list("--sweep-gemm-sizes", flags["sweep-gemm-sizes"].as<std::string>());
    for (const int64_t n : sweep_opt.gemm_sizes)
      DT_USAGE(n >= 16 && n <= 65536, "--sweep-gemm-sizes: {} is out of range; give sizes from 16 to 65536", n);
    if (!(sweep_opt.seconds > 0 && sweep_opt.seconds <= 600))
      throw UsageError(fmt::format("--sweep-seconds {} is out of range; give 0 < S <= 600", sweep_opt.seconds));
    if (!(sweep_opt.margin > 0 && sweep_opt.margin < 1))
      throw UsageError(fmt::format("--sweep-margin {} is out of range; give 0 < M < 1, e.g. 0.25", sweep_opt.margin));
    if (const std::string b = flags["sweep-bytes"].as<std::string>(); !b.empty())
      sweep_opt.bytes = parse_size("--sweep-bytes", b);
    const EnvMap env = process_env();
    LaunchInfo launch = discover_launch(env, common.launch, LaunchContext{});
    validate_world(launch, common.world, env);
    apply_threads(common, launch);

    const Stopwatch clock;
    nlohmann::json record = new_result_record("env_check");
    // Probes first: they touch no network, and the GPU collectives must not wait for peers.
    const std::vector<Check> mine = local_checks(expect, collectives && launch.local_rank == 0, common.world.timeout_s);
    auto world = init_world(launch, common.world, env);
    fill_run_record(record, flags, common, *world);
    nlohmann::json packed = {{"host", short_hostname()}, {"checks", nlohmann::json::array()}};
    for (const Check& c : mine) packed["checks"].push_back(to_json(c));
    const auto all = world->comm->control().all_gather(packed.dump());
    const int rank = world->comm->rank();
    FailedRunRecord on_failure(record, common.out, rank);

    std::vector<std::vector<Check>> per_rank;
    std::vector<std::string> hosts;
    for (const std::string& s : all) {
      const nlohmann::json r = nlohmann::json::parse(s);
      hosts.push_back(r["host"]);
      per_rank.emplace_back();
      for (const auto& c : r["checks"]) per_rank.back().push_back({c["name"], c["verdict"], c["value"], c["detail"]});
    }
    // Rank 0's view, then what differs, then any rank's failure rank 0 did not see.
    std::vector<Check> checks = per_rank[0];
    for (Check& d : differences(per_rank, hosts)) checks.push_back(std::move(d));
    std::optional<SweepVerdict> swept;
    if (sweep) {
      swept = run_sweep(*world, sweep_opt);
      for (Check& c : sweep_checks(*swept)) checks.push_back(std::move(c));
    }
    std::vector<std::string> failed;
    int counts[3] = {0, 0, 0};
    for (const Check& c : checks) {
      counts[c.verdict == "ok" ? 0 : c.verdict == "warn" ? 1 : 2]++;
      if (c.verdict == "fail") failed.push_back(c.name + (c.detail.empty() ? "" : " (" + c.detail + ")"));
    }
    for (size_t r = 1; r < per_rank.size(); ++r)
      for (const Check& c : per_rank[r])
        if (c.verdict == "fail" && std::none_of(checks.begin(), checks.end(), [&](const Check& x) {
              return x.name == c.name && x.verdict == "fail";
            }))
          failed.push_back(fmt::format("{} on {} (rank {}): {}", c.name, hosts[r], r, c.detail));

    if (rank == 0) {
      std::printf("# dtbench env_check: %d rank(s) on %d node(s), launch %s\n", world->comm->size(),
                  record["launch"]["nodes"].get<int>(), launch.source.c_str());
      print_table(checks);
      if (swept)
        for (const std::string& line : sweep_lines(*swept)) std::printf("%s\n", line.c_str());
      std::printf("# %d ok, %d warn, %d fail%s\n", counts[0], counts[1], counts[2], failed.empty() ? "" : " -> FAILED");
      std::fflush(stdout);
    }
    record["checks"] = nlohmann::json::array();
    for (const Check& c : checks) record["checks"].push_back(to_json(c));
    if (swept) record["sweep"] = to_json(*swept);
    record["metrics"] = {{"checks_ok", counts[0]}, {"checks_warn", counts[1]}, {"checks_fail", counts[2]}};
    std::string error;
    if (!failed.empty()) {
      error = fmt::format("{} check(s) failed: ", failed.size());
      for (size_t i = 0; i < failed.size(); ++i) error += (i ? "; " : "") + failed[i];
    }
    on_failure.disarm();
    finish_run_record(record, common, *world, clock.elapsed_s(), error);
    if (!error.empty()) throw CorrectnessFailure(error);
    world.reset();
    return 0;
  });
}
