#include "core/comm/op_thread.h"

namespace dtbench {

OpThread::OpThread() : thread_([this] { loop(); }) {}

OpThread::~OpThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::shared_ptr<CpuWork> OpThread::post(std::function<void()> fn) {
  auto work = std::make_shared<CpuWork>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace_back(std::move(fn), work);
  }
  cv_.notify_one();
  return work;
}

void OpThread::loop() {
  for (;;) {
    std::pair<std::function<void()>, std::shared_ptr<CpuWork>> item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and drained
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    std::exception_ptr error;
    try {
      item.first();
    } catch (...) {
      error = std::current_exception();
    }
    item.first = nullptr;  // release the op's tensors before anyone sees it done
    item.second->finish(error);
  }
}

}  // namespace dtbench
