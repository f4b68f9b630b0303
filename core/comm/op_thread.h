// One thread that runs closures in the order they were posted: the communication thread
// of a CPU communicator. MPI progresses non-blocking operations only inside MPI calls, so
// ops run to completion here, one after another, while the caller goes on computing.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/comm/work.h"

namespace dtbench {

class OpThread {
 public:
  OpThread();
  ~OpThread();  // runs what is queued, then joins
  OpThread(const OpThread&) = delete;
  OpThread& operator=(const OpThread&) = delete;

  // Queues `fn`; the returned work completes when it has run (with its exception, if any).
  std::shared_ptr<CpuWork> post(std::function<void()> fn);

 private:
  void loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::function<void()>, std::shared_ptr<CpuWork>>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dtbench
