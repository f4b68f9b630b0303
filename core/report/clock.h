// Clocks for host-side timing. CPU time is a steady clock; GPU time uses CUDA events
// (kept next to the CUDA code, not here).
#pragma once

#include <chrono>
#include <string>

namespace dtbench {

// Seconds on the steady clock since an arbitrary epoch; only differences mean anything.
inline double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Seconds since the Unix epoch on the wall clock: comparable across processes of one host.
inline double unix_now_s() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Wall-clock time as ISO 8601 UTC with milliseconds, for records and logs.
std::string utc_iso8601_now();

class Stopwatch {
 public:
  Stopwatch() : start_(now_s()) {}
  void reset() { start_ = now_s(); }
  double elapsed_s() const { return now_s() - start_; }

 private:
  double start_;
};

}  // namespace dtbench
