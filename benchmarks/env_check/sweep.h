// env_check --sweep: the bad-node finder. One rank per node (its local rank 0) measures the
// node's GEMM rate and memory bandwidth; then every pair of nodes measures its point-to-point
// bandwidth and latency through the Communicator's send/recv, in rounds of disjoint pairs that
// run at the same time. A node or link below the median by the margin is flagged, and the
// verdict names the nodes to exclude.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "benchmarks/env_check/check.h"

namespace dtbench {
class World;
}

namespace dtbench::envcheck {

struct SweepOptions {
  double seconds = 1.0;  // --sweep-seconds: each node probe (GEMM, memory), in 5 segments
  int64_t bytes = 0;     // --sweep-bytes: the point-to-point message; 0 = 4 MiB on CPU, 64 MiB on GPU
  double margin = 0.25;  // --sweep-margin: below (1 - margin) x the median is flagged
  bool serial = false;   // --sweep-serial: probe the nodes one at a time (they share CPUs)
  // --sweep-gemm-sizes: also the GEMM rate at each n x n x n (the predictor's rate by size);
  // empty: 1024, 2048, 4096 and 8192 on a GPU, none on a CPU.
  std::vector<int64_t> gemm_sizes;
};

// A node's own rates (the median of its segments: a CPU quota throttles whole periods).
struct NodeProbe {
  int node = 0;
  std::string host;
  double gemm_gflops = 0, mem_gbps = 0;
  std::vector<std::pair<int64_t, double>> gemm_by_size;  // {n, GFLOP/s}
};

// One pair's ping-pong: bytes both ways per round trip; latency is half the shortest round
// trip of an 8-byte message.
struct LinkProbe {
  int a = 0, b = 0;
  double bw_gbps = 0, latency_us = 0;
};

// Every pair of `nodes` once, in rounds of disjoint pairs (the circle method): nodes - 1 rounds
// for an even count, nodes for an odd one (one node rests each round).
std::vector<std::vector<std::pair<int, int>>> pair_rounds(int nodes);

struct NodeVerdict {
  int node = 0;
  std::string host;
  double gemm_gflops = 0, mem_gbps = 0;
  double link_gbps = 0, latency_us = 0;  // the medians over the node's links
  std::vector<std::string> causes;       // "gemm", "memory", "link", "latency"; empty = healthy
};

struct SweepVerdict {
  double margin = 0;
  double median_gemm = 0, median_mem = 0, median_link = 0, median_latency = 0;
  std::vector<std::pair<int64_t, double>> median_gemm_by_size;  // {n, GFLOP/s}, the nodes' median
  std::vector<NodeVerdict> nodes;
  std::vector<LinkProbe> links;
  std::vector<std::pair<int, int>> slow_links;  // flagged links between two nodes not flagged themselves
  std::vector<std::string> bad_hosts() const;   // the flagged nodes' hosts, in node order
  std::string exclude_list() const;             // "node2,node5": sbatch --exclude's argument
  const std::string& host(int node) const { return nodes.at(static_cast<size_t>(node)).host; }
};

// The verdict (a pure function). A node is flagged for a GEMM rate, memory bandwidth or link
// bandwidth below (1 - margin) x the median over nodes, or a link latency above 3 x the median
// and at least kLatencyFloorUs above it (latency is noisier than bandwidth: a few scheduling
// delays triple a 12 us loopback latency and mean nothing). A node's link figures are the medians over its pairs,
// so one slow peer does not flag it. A link below (1 - margin) x the median link whose nodes
// are both healthy is a slow link (a cable or switch port). With two nodes the one link cannot
// be blamed on either node: only the nodes' own rates are judged.
constexpr double kLatencyFloorUs = 50;
SweepVerdict judge_sweep(const std::vector<NodeProbe>& nodes, const std::vector<LinkProbe>& links, double margin);

nlohmann::json to_json(const SweepVerdict& v);

// The table and the verdict line, as rank 0 prints them.
std::vector<std::string> sweep_lines(const SweepVerdict& v);

// One check per node (fail when flagged, naming the causes against the medians) and a warn
// per slow link: env_check's table and exit code.
std::vector<Check> sweep_checks(const SweepVerdict& v);

// Runs the sweep (collective over the world). Every rank returns the same verdict.
SweepVerdict run_sweep(World& world, const SweepOptions& opt);

}  // namespace dtbench::envcheck
