#include "core/predict/search.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/report/errors.h"

namespace dtbench {

namespace {

std::vector<int64_t> divisors(int64_t n, int64_t at_most) {
  std::vector<int64_t> out;
  for (int64_t d = 1; d <= std::min(n, at_most); ++d)
    if (n % d == 0) out.push_back(d);
  return out;
}

}  // namespace

std::string layout_label(const ParallelLayout& l) {
  std::string s = l.shard_params ? (l.shard_group > 0 ? fmt::format("hsdp {}x{}", l.dp / l.shard_group, l.shard_group)
                                                      : fmt::format("fsdp {}", l.dp))
                                 : fmt::format("dp {}", l.dp);
  if (l.tp > 1) s += fmt::format(" tp {}{}", l.tp, l.sp ? " sp" : "");
  if (l.pp > 1) s += fmt::format(" pp {}", l.pp);
  if (l.vp > 1) s += fmt::format(" vp {}", l.vp);
  if (l.ep > 1) s += fmt::format(" ep {}", l.ep);
  s += fmt::format(" mb {} x{}", l.micro_batch, l.accumulation);
  if (l.activation_checkpointing) s += " ac";
  return s;
}

SearchResult search_layouts(const ModelConfig& c, const SearchSpace& space, const HwProfile& p) {
  const int64_t rpn = space.ranks_per_node > 0 ? space.ranks_per_node : p.devices_per_node;
  const int64_t world = space.nodes * rpn;
  DT_USAGE(space.nodes >= 1 && rpn >= 1, "--nodes {}: give at least 1 node (and ranks per node)", space.nodes);
  const Cluster cluster{space.nodes, rpn};
  const int64_t seq = space.seq > 0 ? space.seq : c.seq;
  const int64_t global = space.global_batch > 0 ? space.global_batch : 2 * world;
  std::vector<ParallelLayout> shapes;
  const std::vector<int64_t> eps = c.moe() ? divisors(c.experts, rpn) : std::vector<int64_t>{1};
  // FSDP over the world, or hybrid: shards inside a node, replicas across nodes.
  for (int64_t ep : eps)
    for (int64_t shard : {int64_t{0}, rpn}) {
      if (shard == rpn && (space.nodes == 1 || ep > 1)) continue;
      shapes.push_back({.dp = world, .ep = ep, .shard_params = true, .shard_group = shard});
    }
  // Tensor x pipeline x data-parallel replicas (DDP); tensor parallelism inside a node.
  for (int64_t tp : divisors(rpn, rpn))
    for (int64_t pp : divisors(world / tp, c.layers))
      if (c.layers % pp == 0)
        for (int64_t vp : {int64_t{1}, int64_t{2}})
          for (int64_t ep : eps) {
            if (vp > 1 && pp == 1) continue;
            const int64_t dp = world / (tp * pp);
            shapes.push_back({.dp = dp, .tp = tp, .pp = pp, .ep = ep, .sp = tp > 1, .vp = vp});
          }
  SearchResult out;
  std::map<std::string, int64_t> why;
  for (const ParallelLayout& shape : shapes)
    for (int64_t mb : {1, 2, 4, 8})
      for (bool ac : {false, true}) {
        ParallelLayout l = shape;
        l.micro_batch = mb;
        l.seq = seq;
        l.activation_checkpointing = ac;
        l.bf16 = space.bf16;
        ++out.considered;
        if (global % (mb * l.dp) != 0) {
          ++why[fmt::format("global batch {} is not a multiple of micro-batch x dp", global)];
          continue;
        }
        l.accumulation = global / (mb * l.dp);
        try {
          Candidate cand{l, predict_step(c, l, cluster, p), layout_label(l)};
          if (cand.prediction.mem_capacity > 0 &&
              static_cast<double>(cand.prediction.peak_mem_bytes) > cand.prediction.mem_capacity) {
            ++why[fmt::format("predicted peak memory above the device's {:.0f} GiB",
                              cand.prediction.mem_capacity / (1LL << 30))];
            continue;
          }
          out.ranked.push_back(std::move(cand));
        } catch (const UsageError& e) {
          ++why[e.what()];
        }
      }
  std::stable_sort(out.ranked.begin(), out.ranked.end(), [](const Candidate& a, const Candidate& b) {
    return a.prediction.tokens_per_s > b.prediction.tokens_per_s;
  });
  for (const auto& [reason, n] : why) out.rejected.emplace_back(reason, n);
  std::sort(out.rejected.begin(), out.rejected.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

}  // namespace dtbench
