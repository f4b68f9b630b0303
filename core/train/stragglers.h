// Straggler attribution (docs/ARCHITECTURE.md, "Diagnosis"): which rank made the others wait,
// for how much of each step, and why.
//
// Every communication op is matched across the ranks of its group (op_timing.h), with each
// rank's times moved onto rank 0's clock. A rank's lateness at an op is how long after the
// median of the others it entered it: the time the others waited for it there. Per step, a
// rank's lateness (summed over the step's ops) and its own work (the step's time not blocked
// waiting for communication) are compared with the median rank's, since noise makes every rank late or slow
// now and then. Its score is the median over steps of its lateness beyond the median rank's, as
// a share of the step; at or above the threshold it is a straggler. The cause is compute when
// its own work, or the time its CPU was withheld (run-queue waits, a cgroup's quota: a starved
// CPU slows its communication too), beyond the median rank's accounts for at least half of that
// lateness; else network (its communication took longer with the CPU it had).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/comm/clock_sync.h"
#include "core/comm/communicator.h"
#include "core/comm/op_timing.h"

namespace dtbench {

struct RankOps {
  int rank = 0;
  std::string host;
  double offset_s = 0;                  // rank 0's clock = this rank's + offset_s
  std::map<int64_t, double> step_s;     // each step's time on this rank
  std::map<int64_t, double> blocked_s;  // each step's time blocked waiting for ops
  std::map<int64_t, double> starved_s;  // each step's CPU starvation (cpu_starvation.h)
  std::vector<OpTiming> ops;
};

struct RankLateness {
  int rank = 0;
  std::string host;
  // Per step: time, lateness, time inside ops (their union), time not blocked waiting for them.
  std::map<int64_t, double> step_s, late_s, in_comm_s, compute_s, starved_s;
  double late_beyond_s = 0;     // median over steps of late_s less the median rank's (>= 0)
  double compute_beyond_s = 0;  // median over steps of compute_s less the median rank's
  double starved_beyond_s = 0;  // median over steps of starved_s less the median rank's
  double score = 0;             // median over steps of that lateness / step_s
  std::string cause;            // "compute" or "network"; "" without lateness
};

struct StragglerReport {
  double threshold = 0;
  std::vector<RankLateness> ranks;  // every rank, in rank order
  std::vector<const RankLateness*> stragglers() const;
};

constexpr double kStragglerThreshold = 0.1;  // the others waited for it 10 % of a step

// The attribution (a pure function).
StragglerReport attribute_stragglers(const std::vector<RankOps>& ranks, double threshold = kStragglerThreshold);

// Collective over `world`: every rank's op log (taken from OpTimingLog) and step times reach
// every rank, which attributes them. `clock`: this rank's offset to rank 0's clock.
// `step_s`, `starved_s`: this rank's step times and CPU starvation per step.
StragglerReport measure_stragglers(Communicator& world, const ClockOffset& clock,
                                   const std::map<int64_t, double>& step_s, const std::map<int64_t, double>& starved_s);

// The record's "stragglers": [{rank, host, score, cause}] of the stragglers.
nlohmann::json stragglers_json(const StragglerReport& r);

// "none" or "rank 2 (node1) 0.42 compute, rank 3 (node1) 0.40 compute".
std::string stragglers_text(const StragglerReport& r);

}  // namespace dtbench
