#include "core/comm/work.h"

namespace dtbench {

bool CpuWork::is_completed() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

void CpuWork::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done_; });
  if (error_) std::rethrow_exception(error_);
}

void CpuWork::finish(std::exception_ptr error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    error_ = std::move(error);
  }
  cv_.notify_all();
}

}  // namespace dtbench
