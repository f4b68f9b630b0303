#include "core/comm/op_timing.h"

#include <algorithm>

namespace dtbench {

OpTimingLog& OpTimingLog::instance() {
  static OpTimingLog log;
  return log;
}

void OpTimingLog::set_step(int64_t step) {
  const std::lock_guard<std::mutex> lock(mu_);
  step_ = step;
}

int64_t OpTimingLog::step() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return step_;
}

void OpTimingLog::add(OpTiming t) {
  if (t.step < 0) return;
  const std::lock_guard<std::mutex> lock(mu_);
  // Older steps go once the log holds more than kSteps of them (ops retire roughly in step
  // order, so the oldest are at the front).
  if (!ops_.empty() && t.step - ops_.front().step >= kSteps) {
    const int64_t keep_from = t.step - kSteps + 1;
    ops_.erase(ops_.begin(),
               std::find_if(ops_.begin(), ops_.end(), [&](const OpTiming& o) { return o.step >= keep_from; }));
  }
  ops_.push_back(std::move(t));
}

void OpTimingLog::add_blocked(double seconds) {
  const std::lock_guard<std::mutex> lock(mu_);
  if (step_ < 0) return;
  blocked_[step_] += seconds;
  if (static_cast<int64_t>(blocked_.size()) > kSteps) blocked_.erase(blocked_.begin());
}

std::map<int64_t, double> OpTimingLog::take_blocked() {
  const std::lock_guard<std::mutex> lock(mu_);
  std::map<int64_t, double> out;
  out.swap(blocked_);
  return out;
}

std::vector<OpTiming> OpTimingLog::take() {
  const std::lock_guard<std::mutex> lock(mu_);
  std::vector<OpTiming> out;
  out.swap(ops_);
  return out;
}

}  // namespace dtbench
