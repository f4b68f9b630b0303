#include "core/comm/work.h"

#include "core/comm/op_timing.h"

#include "core/report/clock.h"
#include "core/report/timeline.h"

namespace dtbench {

bool CpuWork::is_completed() const { return done_.load(std::memory_order_acquire); }

void CpuWork::wait() {
  if (!is_completed()) {
    const double t0 = now_s();
    // Run the queue up to this op on this thread rather than sleep while another runs it.
    if (helper_) helper_();
    if (!is_completed()) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return is_completed(); });
    }
    OpTimingLog::instance().add_blocked(now_s() - t0);  // this thread could not go on meanwhile
  }
  if (error_) std::rethrow_exception(error_);
}

void CpuWork::start() {
  run_.start_s = now_s();
  run_.tid = timeline::thread_index();
  started_.store(true, std::memory_order_release);
}

std::optional<Work::HostRun> CpuWork::host_run() {
  if (!is_completed() || !started_.load(std::memory_order_acquire)) return std::nullopt;
  return run_;
}

void CpuWork::finish(std::exception_ptr error) {
  error_ = std::move(error);  // published by the release store below
  run_.end_s = now_s();
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
}

}  // namespace dtbench
