// Work: the handle of an asynchronous op (docs/ARCHITECTURE.md, "Communicator").
//
// On CPU, wait() blocks the calling thread until the op is done and rethrows its error.
// On GPU, wait() makes the current CUDA stream wait for the op (the host does not block);
// synchronize() blocks the host. Nothing here has a timeout: the watchdog bounds every op.
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace dtbench {

class Work {
 public:
  virtual ~Work() = default;
  // Non-blocking: true once the op has finished, successfully or not.
  virtual bool is_completed() = 0;
  // Non-blocking: true once the op has begun to run (it may still wait for its peers). For
  // the hang report's "enqueued / started / done"; a backend that cannot tell says completed.
  virtual bool is_started() { return is_completed(); }
  // Non-blocking: true once the op has finished with an error (a timeout, a peer gone).
  virtual bool has_failed() { return false; }
  // Once completed, when it ran on the host (now_s() seconds) and on which timeline thread;
  // none where the host does not run it (NCCL: the GPU does).
  struct HostRun {
    double start_s = 0, end_s = 0;
    int tid = 0;
  };
  virtual std::optional<HostRun> host_run() { return std::nullopt; }
  virtual void wait() = 0;
  virtual void synchronize() { wait(); }
  // wait() for destructors, which must not free an op's buffers before it is done and must
  // not throw: an op that failed has already been reported (by whoever waits on it, or by
  // the watchdog), and rethrowing while unwinding would terminate the process.
  void settle() noexcept {
    try {
      wait();
    } catch (...) {  // reported elsewhere, see above
    }
  }
};

// Completed by the thread that runs the op.
class CpuWork final : public Work {
 public:
  bool is_completed() override { return static_cast<const CpuWork*>(this)->is_completed(); }
  bool is_completed() const;
  // Blocks until done and rethrows the op's error. With a helper, first lets it run the
  // op on this thread (see OpThread).
  void wait() override;
  bool is_started() override { return started_.load(std::memory_order_acquire) || is_completed(); }
  bool has_failed() override { return is_completed() && error_ != nullptr; }
  std::optional<HostRun> host_run() override;
  void start();  // on the thread that runs the op, as it begins
  void finish(std::exception_ptr error = nullptr);
  void set_helper(std::function<void()> helper) { helper_ = std::move(helper); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> done_{false};
  std::atomic<bool> started_{false};
  HostRun run_;               // start_s and tid written before started_, end_s before done_
  std::exception_ptr error_;  // written before done_ is set, read after it is seen
  std::function<void()> helper_;
};

}  // namespace dtbench
