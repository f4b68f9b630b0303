#include "core/comm/op_thread.h"

#include "core/report/timeline.h"

namespace dtbench {

OpThread::OpThread()
    : thread_([this] {
        timeline::name_thread("comm op thread");
        loop();
      }) {}

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
  work->set_helper([this, raw = work.get()] { run_until(raw); });
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Item{std::move(fn), work});
  }
  cv_.notify_one();
  return work;
}

bool OpThread::run_front() {
  Item item;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.empty()) return false;
    item = std::move(queue_.front());
    queue_.pop_front();
  }
  std::exception_ptr error;
  item.work->start();
  try {
    item.fn();
  } catch (...) {
    error = std::current_exception();
  }
  item.fn = nullptr;  // release the op's tensors before anyone sees it done
  item.work->finish(error);
  return true;
}

void OpThread::run_until(const CpuWork* target) {
  std::lock_guard<std::mutex> exec(exec_mu_);
  while (!target->is_completed() && run_front()) {
  }
}

void OpThread::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and drained
    }
    std::lock_guard<std::mutex> exec(exec_mu_);
    run_front();  // a waiting caller may have run it already: then nothing happens
  }
}

}  // namespace dtbench
