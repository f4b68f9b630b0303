// --profile-steps A-B: steps A..B (1-based, inclusive) run between cudaProfilerStart and
// cudaProfilerStop, inside one NVTX range "profiled steps A-B", so that
//   nsys profile --capture-range=cudaProfilerApi --capture-range-end=stop ...
// records those steps and nothing of start-up, warm-up or shutdown (launch/nsys-wrap runs the
// ranks that way when NSYS=1). CUDA only: there is no CUDA profiler on the CPU path, and the
// flag is refused there (exit 2).
#pragma once

#include <cxxopts.hpp>

#include <cstdint>
#include <string>

namespace dtbench {

struct StepRange {
  int64_t first = 0, last = 0;  // 1-based, inclusive; 0 = none
  bool empty() const { return first == 0; }
};

// Adds --profile-steps A-B; `step` says what one step is in this executable.
void add_profile_flag(cxxopts::Options& options, const std::string& step);

// --profile-steps as a range (empty when not given): "A-B" or "A", 1 <= A <= B <= max_step, and
// only with --device cuda. UsageError (exit 2, before any communication) otherwise.
StepRange read_profile_flag(const cxxopts::ParseResult& r, int64_t max_step, const std::string& device);

class ProfileWindow {
 public:
  explicit ProfileWindow(StepRange range);
  ~ProfileWindow();  // stops the profiler if a step inside the range threw
  ProfileWindow(const ProfileWindow&) = delete;
  ProfileWindow& operator=(const ProfileWindow&) = delete;

  // Around step `step` (1-based): begin before its work is queued, end once it is complete on
  // the device (after the step timer's synchronisation).
  void begin(int64_t step);
  void end(int64_t step);

 private:
  StepRange range_;
  bool running_ = false;
  uint64_t nvtx_ = 0;  // the window's NVTX range (nvtxRangeId_t)
};

}  // namespace dtbench
