// Exposed communication: how long computation waited for communication to finish.
//
// On the CPU backends a rank's thread blocks in Work::wait(), so host time around the wait
// is the answer. On CUDA, wait() only makes the compute stream wait for the op's event and
// returns at once (core/comm/work.h): host time reads ~0 whatever the stall. There, events
// recorded on the compute stream just before and after the wait bracket the stall itself;
// they are read once the step is over (total_s(), after the step timer's synchronisation),
// so that timing costs no extra synchronisation inside the step.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>

namespace dtbench {

class WaitTimer {
 public:
  explicit WaitTimer(at::Device device);
  ~WaitTimer();
  WaitTimer(const WaitTimer&) = delete;
  WaitTimer& operator=(const WaitTimer&) = delete;

  // Runs `wait` (one or more Work::wait calls) and adds the time it held computation up.
  void time(const std::function<void()>& wait);
  // Seconds of waiting so far (on CUDA: waits for the pending events, so call it once the
  // step's work is complete).
  double total_s() const;
  // How the time is measured, for the record: "host" or "cuda_events".
  static const char* method(at::Device device);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtbench
