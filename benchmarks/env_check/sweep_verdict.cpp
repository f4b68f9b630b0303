// The sweep's pure half: the pair schedule and the verdict from the measured figures.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "benchmarks/env_check/sweep.h"
#include "core/report/stats.h"

namespace dtbench::envcheck {

std::vector<std::vector<std::pair<int, int>>> pair_rounds(int nodes) {
  std::vector<std::vector<std::pair<int, int>>> rounds;
  if (nodes < 2) return rounds;
  const int m = nodes % 2 ? nodes + 1 : nodes;  // an odd count gets a "rest" slot
  std::vector<int> ring(m);
  std::iota(ring.begin(), ring.end(), 0);
  for (int r = 0; r < m - 1; ++r) {
    auto& round = rounds.emplace_back();
    for (int i = 0; i < m / 2; ++i) {
      const int a = ring[i], b = ring[m - 1 - i];
      if (a < nodes && b < nodes) round.emplace_back(std::min(a, b), std::max(a, b));
    }
    std::rotate(ring.begin() + 1, ring.end() - 1, ring.end());  // slot 0 stays, the rest turn
  }
  return rounds;
}

std::vector<std::string> SweepVerdict::bad_hosts() const {
  std::vector<std::string> out;
  for (const NodeVerdict& n : nodes)
    if (!n.causes.empty()) out.push_back(n.host);
  return out;
}

std::string SweepVerdict::exclude_list() const {
  std::string list;
  for (const std::string& h : bad_hosts()) list += (list.empty() ? "" : ",") + h;
  return list;
}

namespace {

double median(std::vector<double> v) { return v.empty() ? 0 : percentile(std::move(v), 0.5); }

// "link 0.0123 GB/s (25 % of the median)" for each cause of a flagged node.
std::string causes_text(const SweepVerdict& v, const NodeVerdict& n) {
  std::string out;
  for (const std::string& c : n.causes) {
    const bool gemm = c == "gemm", mem = c == "memory", link = c == "link";
    const double x = gemm ? n.gemm_gflops : mem ? n.mem_gbps : link ? n.link_gbps : n.latency_us;
    const double m = gemm ? v.median_gemm : mem ? v.median_mem : link ? v.median_link : v.median_latency;
    const char* unit = gemm ? "GFLOP/s" : mem || link ? "GB/s" : "us";
    out += fmt::format("{}{} {:.4g} {} ({:.0f} % of the median)", out.empty() ? "" : ", ", c, x, unit,
                       m > 0 ? 100 * x / m : 0.0);
  }
  return out;
}

}  // namespace

SweepVerdict judge_sweep(const std::vector<NodeProbe>& nodes, const std::vector<LinkProbe>& links, double margin) {
  SweepVerdict v;
  v.margin = margin;
  v.links = links;
  const bool judge_links = nodes.size() >= 3;
  std::vector<double> gemm, mem, link, latency, all_links;
  for (const NodeProbe& p : nodes) {
    NodeVerdict n{p.node, p.host, p.gemm_gflops, p.mem_gbps, 0, 0, {}};
    std::vector<double> bw, lat;
    for (const LinkProbe& l : links)
      if (l.a == p.node || l.b == p.node) {
        bw.push_back(l.bw_gbps);
        lat.push_back(l.latency_us);
      }
    n.link_gbps = median(bw);
    n.latency_us = median(lat);
    gemm.push_back(n.gemm_gflops);
    mem.push_back(n.mem_gbps);
    link.push_back(n.link_gbps);
    latency.push_back(n.latency_us);
    v.nodes.push_back(std::move(n));
  }
  for (const LinkProbe& l : links) all_links.push_back(l.bw_gbps);
  v.median_gemm = median(gemm);
  // The GEMM rate by size: every node probed the same sizes.
  if (!nodes.empty())
    for (std::size_t i = 0; i < nodes[0].gemm_by_size.size(); ++i) {
      std::vector<double> at;
      for (const NodeProbe& p : nodes)
        if (i < p.gemm_by_size.size()) at.push_back(p.gemm_by_size[i].second);
      v.median_gemm_by_size.emplace_back(nodes[0].gemm_by_size[i].first, median(at));
    }
  v.median_mem = median(mem);
  v.median_link = median(link);
  v.median_latency = median(latency);
  const double low = 1 - margin;
  for (NodeVerdict& n : v.nodes) {
    if (n.gemm_gflops < low * v.median_gemm) n.causes.emplace_back("gemm");
    if (n.mem_gbps < low * v.median_mem) n.causes.emplace_back("memory");
    if (judge_links && n.link_gbps < low * v.median_link) n.causes.emplace_back("link");
    if (judge_links && n.latency_us > 3 * v.median_latency && n.latency_us > v.median_latency + kLatencyFloorUs)
      n.causes.emplace_back("latency");
  }
  if (judge_links) {
    const double typical = median(all_links);
    auto healthy = [&](int node) {
      for (const NodeVerdict& n : v.nodes)
        if (n.node == node) return n.causes.empty();
      return true;
    };
    for (const LinkProbe& l : links)
      if (l.bw_gbps < low * typical && healthy(l.a) && healthy(l.b)) v.slow_links.emplace_back(l.a, l.b);
  }
  return v;
}

nlohmann::json to_json(const SweepVerdict& v) {
  nlohmann::json j = {{"margin", v.margin},
                      {"median",
                       {{"gemm_gflops", v.median_gemm},
                        {"mem_gbps", v.median_mem},
                        {"link_gbps", v.median_link},
                        {"latency_us", v.median_latency}}},
                      {"nodes", nlohmann::json::array()},
                      {"links", nlohmann::json::array()},
                      {"slow_links", nlohmann::json::array()},
                      {"bad_hosts", v.bad_hosts()}};
  if (!v.median_gemm_by_size.empty()) {
    nlohmann::json& by = j["median"]["gemm_gflops_by_size"] = nlohmann::json::array();
    for (const auto& [n, g] : v.median_gemm_by_size) by.push_back({{"size", n}, {"gflops", g}});
  }
  for (const NodeVerdict& n : v.nodes)
    j["nodes"].push_back({{"node", n.node},
                          {"host", n.host},
                          {"gemm_gflops", n.gemm_gflops},
                          {"mem_gbps", n.mem_gbps},
                          {"link_gbps", n.link_gbps},
                          {"latency_us", n.latency_us},
                          {"causes", n.causes}});
  for (const LinkProbe& l : v.links)
    j["links"].push_back(
        {{"a", v.host(l.a)}, {"b", v.host(l.b)}, {"bw_gbps", l.bw_gbps}, {"latency_us", l.latency_us}});
  for (const auto& [a, b] : v.slow_links) j["slow_links"].push_back({v.host(a), v.host(b)});
  j["exclude"] = v.bad_hosts().empty() ? "" : "--exclude=" + v.exclude_list();
  return j;
}

std::vector<std::string> sweep_lines(const SweepVerdict& v) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("# node sweep: {} node(s), {} link(s); flagged below {:.0f} % of the median",
                              v.nodes.size(), v.links.size(), 100 * (1 - v.margin)));
  lines.push_back(fmt::format("  {:<20} {:>12} {:>10} {:>11} {:>12}  {}", "node", "gemm GFLOP/s", "mem GB/s",
                              "link GB/s", "latency us", "verdict"));
  for (const NodeVerdict& n : v.nodes) {
    const std::string verdict = n.causes.empty() ? "ok" : "BAD: " + causes_text(v, n);
    lines.push_back(fmt::format("  {:<20} {:>12.2f} {:>10.2f} {:>11.4f} {:>12.1f}  {}", n.host, n.gemm_gflops,
                                n.mem_gbps, n.link_gbps, n.latency_us, verdict));
  }
  lines.push_back(fmt::format("  {:<20} {:>12.2f} {:>10.2f} {:>11.4f} {:>12.1f}", "median", v.median_gemm, v.median_mem,
                              v.median_link, v.median_latency));
  for (const auto& [a, b] : v.slow_links)
    lines.push_back(fmt::format("# slow link {} <-> {} between healthy nodes: check its cable and switch port",
                                v.host(a), v.host(b)));
  const std::vector<std::string> bad = v.bad_hosts();
  if (bad.empty()) {
    lines.push_back(v.nodes.size() < 3 ? "# verdict: no node is bad (links not judged: 3 nodes or more are needed)"
                                       : "# verdict: no node is bad");
  } else {
    lines.push_back(fmt::format("# verdict: {} bad node(s); rerun without them: sbatch --exclude={} ...", bad.size(),
                                v.exclude_list()));
  }
  return lines;
}

std::vector<Check> sweep_checks(const SweepVerdict& v) {
  std::vector<Check> out;
  for (const NodeVerdict& n : v.nodes)
    out.push_back(n.causes.empty() ? ok("sweep " + n.host, "ok")
                                   : fail("sweep " + n.host, n.causes,
                                          causes_text(v, n) + "; exclude it: sbatch --exclude=" + n.host));
  for (const auto& [a, b] : v.slow_links) {
    out.push_back(warn("sweep link " + v.host(a) + "-" + v.host(b), "slow",
                       "slow between healthy nodes: check the cable and switch port"));
  }
  return out;
}

}  // namespace dtbench::envcheck
