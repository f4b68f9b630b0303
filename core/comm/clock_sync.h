// How far this rank's steady clock is from rank 0's, measured over the control plane (no
// data-path op, no extra connection), for merging the ranks' timelines.
//
// Each round is an all_gather bracketed by this rank's clock: [t0, t1]. The moment E when the
// last rank entered it lies inside every rank's bracket, so rank 0's clock minus ours lies in
// [a0 - t1, b0 - t0], where [a0, b0] is rank 0's bracket (sent in the next round). Of 10
// rounds, the narrowest interval gives the offset (its middle) and a bound on its error (half
// its width): a bound, not an estimate, whatever the network's asymmetry.
#pragma once

#include "core/comm/control_plane.h"

namespace dtbench {

struct ClockOffset {
  double at_s = 0;           // this rank's clock (now_s()) when measured
  double offset_s = 0;       // rank 0's clock = ours + offset_s
  double uncertainty_s = 0;  // |error of offset_s| <= this
};

// Collective over `plane`.
ClockOffset measure_clock_offset(ControlPlane& plane, int rounds = 10);

}  // namespace dtbench
