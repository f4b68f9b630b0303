#include "core/comm/work.h"

namespace dtbench {

bool CpuWork::is_completed() const { return done_.load(std::memory_order_acquire); }

void CpuWork::wait() {
  // Run the queue up to this op on this thread rather than sleep while another runs it.
  if (!is_completed() && helper_) helper_();
  if (!is_completed()) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return is_completed(); });
  }
  if (error_) std::rethrow_exception(error_);
}

void CpuWork::finish(std::exception_ptr error) {
  error_ = std::move(error);  // published by the release store below
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
}

}  // namespace dtbench
