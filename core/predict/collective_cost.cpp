#include "core/predict/collective_cost.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/report/errors.h"

namespace dtbench {

double bus_factor(Coll c, int64_t ranks) {
  const double n = static_cast<double>(ranks);
  switch (c) {
    case Coll::kAllReduce:
      return 2.0 * (n - 1) / n;
    case Coll::kAllGather:
    case Coll::kReduceScatter:
    case Coll::kAllToAll:
      return (n - 1) / n;
    case Coll::kSendRecv:
      return 1.0;
  }
  return 1.0;
}

double ring_hops(Coll c, int64_t ranks) {
  const double n = static_cast<double>(ranks);
  if (c == Coll::kSendRecv) return 1.0;
  return c == Coll::kAllReduce ? 2.0 * (n - 1) : n - 1;
}

double collective_seconds(const CollectiveFit& f, Coll c, double bytes, int64_t ranks) {
  if (ranks <= 1 || bytes <= 0) return 0;
  return f.latency_s * ring_hops(c, ranks) + bytes * bus_factor(c, ranks) / f.bus_bandwidth;
}

CollectiveFit fit_collective(Coll c, const std::vector<CostPoint>& points, nlohmann::json source) {
  // time = a * hops + b * bus_bytes, each row divided by its time: minimise sum (fit/t - 1)^2.
  double s11 = 0, s12 = 0, s22 = 0, r1 = 0, r2 = 0;
  for (const auto& p : points) {
    const double x1 = ring_hops(c, p.ranks) / p.time_s, x2 = p.bytes * bus_factor(c, p.ranks) / p.time_s;
    s11 += x1 * x1, s12 += x1 * x2, s22 += x2 * x2, r1 += x1, r2 += x2;
  }
  DT_USAGE(points.size() >= 2 && s22 > 0, "{}: at least two sizes are needed to fit latency and bandwidth",
           coll_name(c));
  const double det = s11 * s22 - s12 * s12;
  double a = det > 0 ? (r1 * s22 - r2 * s12) / det : 0, b = det > 0 ? (s11 * r2 - s12 * r1) / det : r2 / s22;
  if (a < 0 || b <= 0) {  // one term alone: bandwidth only, as latency cannot be negative
    a = 0;
    b = r2 / s22;
  }
  CollectiveFit f;
  f.latency_s = a;
  f.bus_bandwidth = 1.0 / b;
  f.source = std::move(source);
  double sq = 0;
  for (const auto& p : points) {
    const double fitted = collective_seconds(f, c, p.bytes, p.ranks);
    const double rel = fitted / p.time_s - 1;
    sq += rel * rel;
    f.residual_max = std::max(f.residual_max, std::abs(rel));
    f.points.push_back({{"bytes", p.bytes}, {"ranks", p.ranks}, {"time_s", p.time_s}, {"fitted_s", fitted}});
  }
  f.residual_rms = std::sqrt(sq / static_cast<double>(points.size()));
  return f;
}

ChosenFit choose_fit(const Level& level, Coll c, int64_t ranks_per_node, const std::string& level_name,
                     const std::string& profile) {
  if (auto n = level.by_ranks_per_node.find(ranks_per_node); n != level.by_ranks_per_node.end())
    if (auto it = n->second.find(c); it != n->second.end()) return {it->second, "fitted"};
  if (auto it = level.collectives.find(c); it != level.collectives.end()) return {it->second, "fitted"};
  if (auto it = level.collectives.find(Coll::kAllReduce); it != level.collectives.end())
    return {it->second, "from all_reduce"};
  DT_USAGE(level.link_bandwidth.has_value(),
           "hardware profile {}: {} has no {} fit, no all_reduce fit and no link bandwidth: calibrate it "
           "(planner --calibrate) or use a layout that stays off that level",
           profile, level_name, coll_name(c));
  CollectiveFit bound;
  bound.bus_bandwidth = level.link_bandwidth->value;
  bound.source = level.link_bandwidth->source;
  return {bound, "link bound"};
}

}  // namespace dtbench
