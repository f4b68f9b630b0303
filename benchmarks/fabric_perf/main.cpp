// fabric_perf: libfabric RDM latency and bandwidth between two ranks, the layer under
// aws-ofi-nccl, so that a slow or broken fabric is told apart from a slow NCCL. Endpoint
// addresses are exchanged over the control plane (MPI or the TCP store); the data path is
// libfabric alone.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <unistd.h>

#include "benchmarks/fabric_perf/endpoint.h"
#include "benchmarks/fabric_perf/transfers.h"
#include "core/app/failed_run_record.h"
#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/app/network_proof.h"
#include "core/app/run_record.h"
#include "core/app/size_sweep.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/result.h"
#include "core/report/stats.h"
#include "core/report/system_info.h"

using namespace dtbench;
using namespace dtbench::fabric;

namespace {

struct Row {
  int64_t bytes = 0;
  Summary latency_us, uni_s, bi_s;
  double uni_gbps = 0, bi_gbps = 0;
  int window = 1;
  int64_t wrong = 0;
};

// Messages per bandwidth iteration: --window, within the provider's queues, and at most
// 256 MiB in flight so that large sizes stay quick.
int window_for(int requested, const Endpoint& ep, int64_t bytes) {
  const int64_t by_bytes = std::max<int64_t>(1, (256LL << 20) / bytes);
  return static_cast<int>(std::min<int64_t>({requested, static_cast<int64_t>(ep.queue_depth()), by_bytes}));
}

nlohmann::json row_json(const Row& r) {
  return {{"size_bytes", r.bytes},
          {"latency_us", to_json(r.latency_us)},
          {"bw_gbps", r.uni_gbps},
          {"bibw_gbps", r.bi_gbps},
          {"window", r.window},
          {"bw_time_s", to_json(r.uni_s)},
          {"bibw_time_s", to_json(r.bi_s)},
          {"wrong", r.wrong}};
}

std::vector<double> scaled(std::vector<double> v, double f) {
  for (double& x : v) x *= f;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("fabric_perf", [&] {
    cxxopts::Options options("fabric_perf",
                             "libfabric RDM ping-pong latency and uni/bidirectional bandwidth between two ranks, "
                             "every message size checked. mpirun -np 2 fabric_perf --provider efa|tcp|shm|sockets");
    add_common_flags(options);
    SizeSweep defaults;
    defaults.min_bytes = 8;
    defaults.max_bytes = 4 << 20;
    defaults.step_factor = 2;
    defaults.iters = 50;
    defaults.warmup = 5;
    add_size_flags(options, "fabric_perf", defaults);
    // clang-format off
    options.add_options("fabric_perf")
        ("provider", "libfabric provider: efa, tcp, shm, sockets (tcp over loopback wants FI_TCP_IFACE=lo)",
         cxxopts::value<std::string>()->default_value("efa"), "NAME")
        ("window", "messages in flight per bandwidth iteration", number<int>()->default_value("64"), "N");
    // clang-format on
    auto flags = parse_flags(options, argc, argv);
    CommonArgs common = read_common_flags(flags);
    const SizeSweep sweep = read_size_flags(flags, defaults);
    const std::string provider = flags["provider"].as<std::string>();
    const int window = flags["window"].as<int>();
    DT_USAGE(window >= 1, "--window {}: at least one message must be in flight", window);
    DT_USAGE(common.world.device == "cpu",
             "--device {}: fabric_perf moves host memory (GPU memory over the fabric is what NCCL's own tests "
             "measure); use --device cpu",
             common.world.device);
    const EnvMap env = process_env();
    LaunchInfo launch = discover_launch(env, common.launch, LaunchContext{});
    validate_world(launch, common.world, env);
    DT_USAGE(launch.world_size == 2,
             "fabric_perf measures one pair of ranks, this launch has {}; run mpirun -np 2 "
             "(one rank per node for the fabric between nodes)",
             launch.world_size);

    // Opening the endpoint is local: a missing provider or a message too large for it is
    // a usage error found before any communication.
    Endpoint ep(provider, common.world.timeout_s);
    DT_USAGE(static_cast<uint64_t>(sweep.max_bytes) <= ep.max_msg_size(),
             "-e {}: provider {} sends at most {} bytes per message; lower -e", sweep.max_bytes, ep.provider_name(),
             ep.max_msg_size());
    const double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
    DT_USAGE(4.0 * static_cast<double>(sweep.max_bytes) < ram,
             "-e {}: a send and a receive buffer per rank, two ranks per node, need more than this node's {:.1f} GiB "
             "of memory; lower -e",
             sweep.max_bytes, ram / (1 << 30));

    const Stopwatch clock;
    nlohmann::json record = new_result_record("fabric_perf");
    auto world = init_world(launch, common.world, env);
    fill_run_record(record, flags, common, *world);
    const int rank = world->comm->rank();
    FailedRunRecord on_failure(record, common.out, rank);
    const auto addresses = world->comm->control().all_gather(ep.address());
    const uint64_t peer = ep.insert_peer(addresses[1 - rank]);
    auto send = ep.region(sweep.max_bytes + 64), recv = ep.region(sweep.max_bytes + 64);
    Pair pair{ep, peer, rank, *send, *recv};

    if (rank == 0) {
      std::printf("# dtbench fabric_perf: provider %s, fabric %s, domain %s, 2 ranks on %d node(s), control plane %s\n",
                  ep.provider_name().c_str(), ep.fabric_name().c_str(), ep.domain_name().c_str(),
                  record["launch"]["nodes"].get<int>(), world->control_kind.c_str());
      std::printf("# iters %d, warmup %d, window up to %d (queue depth %zu); latency = half the round trip\n",
                  sweep.iters, sweep.warmup, window, ep.queue_depth());
      std::printf("# %10s  %9s  %9s  %6s  %9s  %9s  %6s\n", "size", "latency", "lat p90", "window", "bw", "bibw",
                  "#wrong");
      std::printf("# %10s  %9s  %9s  %6s  %9s  %9s  %6s\n", "(B)", "(us)", "(us)", "", "(GB/s)", "(GB/s)", "");
      std::fflush(stdout);
    }
    world->comm->barrier()->synchronize();
    NetworkProof proof(*world);
    std::vector<Row> rows;
    int64_t wrong_total = 0;
    for (int64_t bytes : message_sizes(sweep)) {
      Row r;
      r.bytes = bytes;
      r.window = window_for(window, ep, bytes);
      const size_t n = static_cast<size_t>(bytes);
      r.latency_us = summarize(scaled(ping_pong(pair, n, sweep.warmup, sweep.iters), 0.5e6));
      r.uni_s = summarize(unidirectional(pair, n, r.window, sweep.warmup, sweep.iters));
      r.bi_s = summarize(bidirectional(pair, n, r.window, sweep.warmup, sweep.iters));
      r.uni_gbps = static_cast<double>(bytes) * r.window / r.uni_s.median / 1e9;
      r.bi_gbps = 2.0 * static_cast<double>(bytes) * r.window / r.bi_s.median / 1e9;
      for (auto& w : world->comm->control().all_gather(std::to_string(checked_exchange(pair, n))))
        r.wrong += std::stoll(w);
      wrong_total += r.wrong;
      if (rank == 0) {
        std::printf("  %10lld  %9.2f  %9.2f  %6d  %9.3f  %9.3f  %6lld\n", static_cast<long long>(bytes),
                    r.latency_us.median, r.latency_us.p90, r.window, r.uni_gbps, r.bi_gbps,
                    static_cast<long long>(r.wrong));
        std::fflush(stdout);
      }
      rows.push_back(r);
    }
    if (rank == 0) {
      std::printf("# Wrong bytes : %lld %s\n#\n", static_cast<long long>(wrong_total), wrong_total ? "FAILED" : "OK");
      std::fflush(stdout);
    }

    proof.finish(record, *world);
    record["rows"] = nlohmann::json::array();
    double peak_bw = 0, peak_bibw = 0;
    for (const Row& r : rows) {
      record["rows"].push_back(row_json(r));
      peak_bw = std::max(peak_bw, r.uni_gbps);
      peak_bibw = std::max(peak_bibw, r.bi_gbps);
    }
    record["metrics"] = {{"latency_us_smallest", rows.front().latency_us.median},
                         {"bw_gbps_peak", peak_bw},
                         {"bibw_gbps_peak", peak_bibw},
                         {"wrong", wrong_total}};
    record["system"]["fabric"] = {
        {"provider", ep.provider_name()}, {"fabric", ep.fabric_name()}, {"domain", ep.domain_name()}};
    gather_per_rank(record, *world, "peak_mem_bytes", static_cast<double>(peak_rss_bytes()));
    std::string error;
    if (wrong_total > 0) error = fmt::format("{} bytes arrived wrong; see the #wrong column", wrong_total);
    on_failure.disarm();
    finish_run_record(record, common, *world, clock.elapsed_s(), error);
    if (!error.empty()) throw CorrectnessFailure(error);
    world.reset();
    return 0;
  });
}
