// The cost of one collective on a profile's level, and the fit that makes a level's figures
// from measured (bytes, ranks, time) points.
#pragma once

#include <string>
#include <vector>

#include "core/predict/hw_profile.h"

namespace dtbench {

// nccl-tests' definitions (PERFORMANCE.md): busbw = algbw x factor, where bytes are the
// collective's full size (all_gather's output, reduce_scatter's input, all_to_all's per rank).
double bus_factor(Coll c, int64_t ranks);
// Latency steps of the ring algorithm: 2(n-1) for all_reduce, n-1 for the others, 1 for a
// point-to-point transfer.
double ring_hops(Coll c, int64_t ranks);

// Seconds for `bytes` over `ranks` ranks; 0 for one rank.
double collective_seconds(const CollectiveFit& f, Coll c, double bytes, int64_t ranks);

struct CostPoint {
  double bytes = 0;
  int64_t ranks = 0;
  double time_s = 0;
};

// Least squares of the relative error over the points (sizes span decades, so each counts by
// its share, not its seconds), latency and bandwidth kept non-negative. Residuals are stored
// with the points. `source` says where the points come from.
CollectiveFit fit_collective(Coll c, const std::vector<CostPoint>& points, nlohmann::json source);

// The fit a level uses for collective `c` in a job with `ranks_per_node` ranks on each node,
// and the rule that chose it: the fit measured at that many ranks a node; else the level's
// own; else its all_reduce fit (a ring moves the same bytes per bus byte for every
// collective); else the link bandwidth with no latency (a bound). UsageError naming the level
// when none exists.
struct ChosenFit {
  CollectiveFit fit;
  std::string rule;  // "fitted", "from all_reduce", "link bound"
};
ChosenFit choose_fit(const Level& level, Coll c, int64_t ranks_per_node, const std::string& level_name,
                     const std::string& profile);

}  // namespace dtbench
