#include "core/comm/clock_sync.h"

#include <fmt/format.h>

#include <cstdio>
#include <limits>

#include "core/report/clock.h"
#include "core/report/errors.h"

namespace dtbench {

ClockOffset measure_clock_offset(ControlPlane& plane, int rounds) {
  ClockOffset best;
  double best_width = std::numeric_limits<double>::infinity();
  double prev_t0 = 0, prev_t1 = 0;
  for (int k = 0; k <= rounds; ++k) {
    const std::string mine = fmt::format("{:.9f} {:.9f}", prev_t0, prev_t1);
    const double t0 = now_s();
    const auto all = plane.all_gather(mine);
    const double t1 = now_s();
    if (k > 0) {
      double a0 = 0, b0 = 0;
      DT_CHECK(std::sscanf(all.at(0).c_str(), "%lf %lf", &a0, &b0) == 2, "clock sync: rank 0 sent '{}'", all.at(0));
      const double lo = a0 - prev_t1, hi = b0 - prev_t0;
      if (hi - lo < best_width) {
        best_width = hi - lo;
        best.at_s = (prev_t0 + prev_t1) / 2;
        best.offset_s = plane.rank() == 0 ? 0 : (lo + hi) / 2;
        best.uncertainty_s = plane.rank() == 0 ? 0 : best_width / 2;
      }
    }
    prev_t0 = t0;
    prev_t1 = t1;
  }
  return best;
}

}  // namespace dtbench
