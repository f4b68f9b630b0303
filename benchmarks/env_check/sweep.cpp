// The sweep's measuring half: each node's leader (local rank 0) probes its node, then the
// leaders ping-pong in rounds of disjoint pairs; everything meets in one all_gather of the
// control plane, so every rank judges the same figures.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "benchmarks/env_check/sweep.h"
#include "core/comm/world.h"
#include "core/report/clock.h"
#include "core/report/stats.h"
#include "core/report/system_info.h"
#include "core/train/device.h"

namespace dtbench::envcheck {

namespace {

// `units` of work per call of `work`, per second: five segments of seconds/5 each and the
// median segment's rate. A segment spans whole periods of a CPU quota (100 ms by default), so
// a throttled node cannot hide between them, and one noisy segment does not decide.
double segmented_rate(const at::Device& device, double seconds, double units, const std::function<void()>& work) {
  auto timer = make_step_timer(device);
  work();  // warm-up: first-touch pages, kernels, the allocator
  std::vector<double> rates;
  for (int s = 0; s < 5; ++s) {
    double elapsed = 0;
    int64_t calls = 0;
    while (elapsed < seconds / 5) {
      timer->start();
      work();
      elapsed += timer->stop_s();
      ++calls;
    }
    rates.push_back(units * static_cast<double>(calls) / elapsed);
  }
  return percentile(rates, 0.5);
}

NodeProbe probe_node(const at::Device& device, double seconds, std::vector<int64_t> sizes) {
  NodeProbe p;
  // GEMM: fp32 on CPU, bf16 on GPU (what training runs), square and large enough to be
  // compute bound.
  const bool gpu = device.is_cuda();
  const int64_t n = gpu ? 8192 : 512;
  const auto gemm_opt = at::TensorOptions().dtype(gpu ? at::kBFloat16 : at::kFloat).device(device);
  at::Tensor a = at::randn({n, n}, gemm_opt), b = at::randn({n, n}, gemm_opt), c = at::empty({n, n}, gemm_opt);
  p.gemm_gflops =
      segmented_rate(device, seconds, 2.0 * static_cast<double>(n * n * n) / 1e9, [&] { at::mm_out(c, a, b); });
  // By size: small GEMMs fill a GPU's units in fewer, partial waves, and run further below peak.
  if (sizes.empty() && gpu) sizes = {1024, 2048, 4096, 8192};
  for (const int64_t k : sizes) {
    at::Tensor x = at::randn({k, k}, gemm_opt), y = at::randn({k, k}, gemm_opt), z = at::empty({k, k}, gemm_opt);
    p.gemm_by_size.emplace_back(k, segmented_rate(device, seconds / 2, 2.0 * static_cast<double>(k * k * k) / 1e9,
                                                  [&] { at::mm_out(z, x, y); }));
  }
  // Memory: a copy well beyond the caches; bytes read plus bytes written.
  const int64_t bytes = gpu ? (int64_t{1} << 30) : (int64_t{64} << 20);
  const auto mem_opt = at::TensorOptions().dtype(at::kByte).device(device);
  at::Tensor src = at::ones({bytes}, mem_opt), dst = at::empty({bytes}, mem_opt);
  p.mem_gbps = segmented_rate(device, seconds, 2.0 * static_cast<double>(bytes) / 1e9, [&] { dst.copy_(src); });
  p.host = short_hostname();
  return p;
}

// One pair: the lower node leads and times. Bandwidth: 5 round trips of `bytes` each way after
// one warm-up; latency: half the shortest of 20 round trips of 8 bytes after two warm-ups (the
// link's own figure: a descheduled peer lengthens some round trips, never the shortest).
LinkProbe ping_pong(Communicator& nodes, int me, int peer, int64_t bytes, const at::Device& device) {
  const bool lead = me < peer;
  const auto opt = at::TensorOptions().dtype(at::kByte).device(device);
  at::Tensor big = at::zeros({bytes}, opt), small = at::zeros({8}, opt);
  auto round_trip = [&](const at::Tensor& t) {
    if (lead) {
      nodes.send(t, peer)->synchronize();
      nodes.recv(t, peer)->synchronize();
    } else {
      nodes.recv(t, peer)->synchronize();
      nodes.send(t, peer)->synchronize();
    }
  };
  LinkProbe l{std::min(me, peer), std::max(me, peer), 0, 0};
  std::vector<double> rtt;
  for (int i = 0; i < 22; ++i) {
    const Stopwatch clock;
    round_trip(small);
    if (i >= 2) rtt.push_back(clock.elapsed_s());
  }
  l.latency_us = *std::min_element(rtt.begin(), rtt.end()) / 2 * 1e6;
  round_trip(big);
  const Stopwatch clock;
  for (int i = 0; i < 5; ++i) round_trip(big);
  l.bw_gbps = 2.0 * 5 * static_cast<double>(bytes) / clock.elapsed_s() / 1e9;
  return l;
}

}  // namespace

SweepVerdict run_sweep(World& world, const SweepOptions& opt) {
  Communicator& comm = *world.comm;
  const bool leader = world.launch.local_rank == 0;
  const auto nodes = comm.split(leader ? 0 : 1, comm.rank(), "nodes");
  nlohmann::json mine = nlohmann::json::object();
  if (leader) {
    const at::Device device = comm.device();
    const int me = nodes->rank();
    NodeProbe p;
    if (opt.serial) {
      for (int k = 0; k < nodes->size(); ++k) {
        nodes->barrier()->synchronize();
        if (k == me) p = probe_node(device, opt.seconds, opt.gemm_sizes);
      }
    } else {
      p = probe_node(device, opt.seconds, opt.gemm_sizes);
    }
    mine = {{"node", me},
            {"host", p.host},
            {"gemm_gflops", p.gemm_gflops},
            {"mem_gbps", p.mem_gbps},
            {"gemm_by_size", p.gemm_by_size}};
    mine["links"] = nlohmann::json::array();
    const int64_t bytes = opt.bytes > 0 ? opt.bytes : device.is_cuda() ? (int64_t{64} << 20) : (int64_t{4} << 20);
    for (const auto& round : pair_rounds(nodes->size())) {
      nodes->barrier()->synchronize();  // a round starts when the last one has ended everywhere
      for (const auto& [a, b] : round)
        if (a == me || b == me) {
          const LinkProbe l = ping_pong(*nodes, me, a == me ? b : a, bytes, device);
          if (a == me) mine["links"].push_back({{"a", l.a}, {"b", l.b}, {"bw", l.bw_gbps}, {"lat", l.latency_us}});
        }
    }
  }
  std::vector<NodeProbe> probes;
  std::vector<LinkProbe> links;
  for (const std::string& s : comm.control().all_gather(mine.dump())) {
    const nlohmann::json r = nlohmann::json::parse(s);
    if (!r.contains("node")) continue;
    probes.push_back({r["node"], r["host"], r["gemm_gflops"], r["mem_gbps"], r["gemm_by_size"]});
    for (const auto& l : r["links"]) links.push_back({l["a"], l["b"], l["bw"], l["lat"]});
  }
  std::sort(probes.begin(), probes.end(), [](const NodeProbe& x, const NodeProbe& y) { return x.node < y.node; });
  return judge_sweep(probes, links, opt.margin);
}

}  // namespace dtbench::envcheck
