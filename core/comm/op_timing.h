// When each communication op ran on this rank, by training step, and how long the rank's
// threads were blocked waiting for ops: what straggler attribution (core/train/stragglers.h)
// compares across ranks. The trainer names the step; the Communicator stamps it on every op it
// issues; the watchdog, as an op completes, adds the host times its backend ran it (CPU
// backends: from when the rank entered the op to when it left it); a CPU op's wait() adds the
// time it blocked. GPU ops have neither and are not logged.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace dtbench {

struct OpTiming {
  std::string key;  // "<communicator>@<its world ranks>#<sequence number>": the same op on every rank
  int64_t step = -1;
  double start_s = 0, end_s = 0;  // this rank's now_s()
};

class OpTimingLog {
 public:
  static OpTimingLog& instance();
  // Ops issued from now on belong to `step` (-1: to none, and are not logged).
  void set_step(int64_t step);
  int64_t step() const;
  // Keeps the ops of the last kSteps steps only.
  void add(OpTiming t);
  std::vector<OpTiming> take();  // and forgets them
  // Time a thread spent blocked in an op's wait(), for the current step.
  void add_blocked(double seconds);
  std::map<int64_t, double> take_blocked();  // per step, and forgets them

  static constexpr int64_t kSteps = 64;

 private:
  mutable std::mutex mu_;
  int64_t step_ = -1;
  std::vector<OpTiming> ops_;
  std::map<int64_t, double> blocked_;
};

}  // namespace dtbench
