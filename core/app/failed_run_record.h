// What a failed run leaves behind (docs/ARCHITECTURE.md, "Result record"): its record with
// status "failed", the cause, the exit code and the steps done so far, written by rank 0 to
// --out on whichever path takes the process down (an error reaching main, the watchdog's
// timeout, SIGTERM: Watchdog::last_words), without any further communication, since the
// peers may be gone.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace dtbench {

class FailedRunRecord {
 public:
  // Armed on rank 0 when `out` is not empty: `record` is the run's record as filled so far
  // (config, launch, system, per-rank identity).
  FailedRunRecord(const nlohmann::json& record, const std::string& out, int rank);
  // Disarms it, unless an exception is unwinding the run: the error then reaches main, whose
  // failure path writes the record with it.
  ~FailedRunRecord();
  FailedRunRecord(const FailedRunRecord&) = delete;
  FailedRunRecord& operator=(const FailedRunRecord&) = delete;

  // A step done (any thread).
  void add_step(const nlohmann::json& step);
  // The run writes its own record from here on.
  void disarm();

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the exit hook, which may outlive this object
  int hook_ = -1;
  int unwinding_at_start_ = 0;
};

}  // namespace dtbench
