// Work: the handle of an asynchronous op (DESIGN.md, "Communicator").
//
// On CPU, wait() blocks the calling thread until the op is done and rethrows its error.
// On GPU, wait() makes the current CUDA stream wait for the op (the host does not block);
// synchronize() blocks the host. Nothing here has a timeout: the watchdog bounds every op.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>

namespace dtbench {

class Work {
 public:
  virtual ~Work() = default;
  // Non-blocking: true once the op has finished, successfully or not.
  virtual bool is_completed() = 0;
  virtual void wait() = 0;
  virtual void synchronize() { wait(); }
};

// Completed by the thread that runs the op.
class CpuWork final : public Work {
 public:
  bool is_completed() override;
  void wait() override;
  void finish(std::exception_ptr error = nullptr);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

}  // namespace dtbench
