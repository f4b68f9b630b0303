// env_check --sweep's pure half (benchmarks/env_check/sweep.h): the pair rounds cover every
// pair once with disjoint pairs per round, and the verdict names the slow node with its cause,
// a slow link between healthy nodes, and nobody in a healthy cluster.
#include <catch2/catch.hpp>

#include <set>

#include "benchmarks/env_check/sweep.h"

using namespace dtbench::envcheck;

namespace {

std::vector<NodeProbe> healthy_nodes(int n) {
  std::vector<NodeProbe> v;
  for (int k = 0; k < n; ++k) v.push_back({k, "node" + std::to_string(k), 100.0 + k, 10.0 - 0.1 * k});
  return v;
}

// Every pair at `bw` GB/s and 50 us, except those touching `slow_node` (or the pair `slow_pair`).
std::vector<LinkProbe> links(int n, double bw, int slow_node = -1, std::pair<int, int> slow_pair = {-1, -1}) {
  std::vector<LinkProbe> v;
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b) {
      const bool slow = a == slow_node || b == slow_node || std::make_pair(a, b) == slow_pair;
      v.push_back({a, b, slow ? bw / 4 : bw + 0.01 * (a + b), 50});
    }
  return v;
}

}  // namespace

TEST_CASE("pair rounds: every pair once, disjoint within a round", "[sweep]") {
  for (int n = 2; n <= 9; ++n) {
    const auto rounds = pair_rounds(n);
    CHECK(rounds.size() == static_cast<size_t>(n % 2 ? n : n - 1));
    std::set<std::pair<int, int>> seen;
    for (const auto& round : rounds) {
      std::set<int> busy;
      for (const auto& [a, b] : round) {
        CHECK(a < b);
        CHECK(busy.insert(a).second);
        CHECK(busy.insert(b).second);
        CHECK(seen.insert({a, b}).second);
      }
      CHECK(round.size() == static_cast<size_t>(n / 2));
    }
    CHECK(seen.size() == static_cast<size_t>(n * (n - 1) / 2));
  }
  CHECK(pair_rounds(1).empty());
}

TEST_CASE("sweep verdict: a healthy cluster names nobody", "[sweep]") {
  const SweepVerdict v = judge_sweep(healthy_nodes(4), links(4, 1.0), 0.25);
  CHECK(v.bad_hosts().empty());
  CHECK(v.slow_links.empty());
  CHECK(v.exclude_list().empty());
  CHECK(to_json(v)["exclude"].get<std::string>().empty());
  CHECK(sweep_lines(v).back() == "# verdict: no node is bad");
  for (const Check& c : sweep_checks(v)) CHECK(c.verdict == "ok");
}

TEST_CASE("sweep verdict: a node whose links run at a quarter is named for its link", "[sweep]") {
  const SweepVerdict v = judge_sweep(healthy_nodes(4), links(4, 1.0, 2), 0.25);
  REQUIRE(v.bad_hosts() == std::vector<std::string>{"node2"});
  CHECK(v.nodes[2].causes == std::vector<std::string>{"link"});
  CHECK(v.slow_links.empty());  // its slow links are explained by the node
  CHECK(v.exclude_list() == "node2");
  CHECK(to_json(v)["exclude"] == "--exclude=node2");
  CHECK(sweep_lines(v).back() == "# verdict: 1 bad node(s); rerun without them: sbatch --exclude=node2 ...");
  const auto checks = sweep_checks(v);
  REQUIRE(checks.size() == 4);
  CHECK(checks[2].verdict == "fail");
  CHECK(checks[2].detail.find("link 0.25 GB/s (25 % of the median)") != std::string::npos);
  CHECK(checks[2].detail.find("--exclude=node2") != std::string::npos);
}

TEST_CASE("sweep verdict: a throttled CPU is named for GEMM and memory, not its links", "[sweep]") {
  auto nodes = healthy_nodes(4);
  nodes[1].gemm_gflops = 20;
  nodes[1].mem_gbps = 2;
  const SweepVerdict v = judge_sweep(nodes, links(4, 1.0), 0.25);
  REQUIRE(v.bad_hosts() == std::vector<std::string>{"node1"});
  CHECK(v.nodes[1].causes == std::vector<std::string>{"gemm", "memory"});
}

TEST_CASE("sweep verdict: a slow link between healthy nodes is a slow link, not a bad node", "[sweep]") {
  const SweepVerdict v = judge_sweep(healthy_nodes(5), links(5, 1.0, -1, {1, 3}), 0.25);
  CHECK(v.bad_hosts().empty());
  REQUIRE(v.slow_links.size() == 1);
  CHECK(v.slow_links[0] == std::make_pair(1, 3));
  const auto checks = sweep_checks(v);
  CHECK(checks.back().name == "sweep link node1-node3");
  CHECK(checks.back().verdict == "warn");
}

TEST_CASE("sweep verdict: two nodes judge only their own rates", "[sweep]") {
  auto nodes = healthy_nodes(2);
  const SweepVerdict ok2 = judge_sweep(nodes, links(2, 0.001), 0.25);
  CHECK(ok2.bad_hosts().empty());
  CHECK(sweep_lines(ok2).back() == "# verdict: no node is bad (links not judged: 3 nodes or more are needed)");
  nodes[0].gemm_gflops = 10;
  CHECK(judge_sweep(nodes, links(2, 1.0), 0.25).bad_hosts() == std::vector<std::string>{"node0"});
}

TEST_CASE("sweep verdict: latency three times the median, and 50 us more, flags a node", "[sweep]") {
  auto l = links(4, 1.0);
  for (LinkProbe& x : l)
    if (x.a == 3 || x.b == 3) x.latency_us = 400;
  const SweepVerdict v = judge_sweep(healthy_nodes(4), l, 0.25);
  REQUIRE(v.bad_hosts() == std::vector<std::string>{"node3"});
  CHECK(v.nodes[3].causes == std::vector<std::string>{"latency"});
  for (LinkProbe& x : l)
    if (x.a == 3 || x.b == 3) x.latency_us = 160;  // 3.2 x the median, but only 110 us more: flagged
  CHECK(judge_sweep(healthy_nodes(4), l, 0.25).bad_hosts() == std::vector<std::string>{"node3"});
  for (LinkProbe& x : l) x.latency_us = x.a == 3 || x.b == 3 ? 45 : 12;  // 3.75 x, 33 us more: noise
  CHECK(judge_sweep(healthy_nodes(4), l, 0.25).bad_hosts().empty());
}
