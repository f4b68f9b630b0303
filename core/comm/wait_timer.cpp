#include "core/comm/wait_timer.h"

#include <vector>

#include "core/report/clock.h"
#include "core/report/errors.h"

#ifdef DTBENCH_WITH_NCCL
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace dtbench {

struct WaitTimer::Impl {
  at::Device device;
  mutable double total = 0;
#ifdef DTBENCH_WITH_NCCL
  // Before and after each wait, on the compute stream; the first `used` pairs are resolved
  // into `total` by total_s(), then recorded again by the next step's waits (no event is
  // created per wait once a step has made enough).
  mutable std::vector<std::pair<at::cuda::CUDAEvent, at::cuda::CUDAEvent>> events;
  mutable std::size_t used = 0;
#endif
};

WaitTimer::WaitTimer(at::Device device) : impl_(std::make_unique<Impl>(Impl{device})) {}
WaitTimer::~WaitTimer() = default;

const char* WaitTimer::method(at::Device device) { return device.is_cuda() ? "cuda_events" : "host"; }

void WaitTimer::time(const std::function<void()>& wait) {
#ifdef DTBENCH_WITH_NCCL
  if (impl_->device.is_cuda()) {
    const auto stream = c10::cuda::getCurrentCUDAStream(impl_->device.index());
    if (impl_->used == impl_->events.size()) impl_->events.emplace_back(cudaEventDefault, cudaEventDefault);
    auto& [before, after] = impl_->events[impl_->used++];
    before.record(stream);
    wait();
    after.record(stream);
    return;
  }
#endif
  DT_CHECK(!impl_->device.is_cuda(), "a CUDA wait timer in a build without CUDA");
  const Stopwatch waited;
  wait();
  impl_->total += waited.elapsed_s();
}

double WaitTimer::total_s() const {
#ifdef DTBENCH_WITH_NCCL
  for (std::size_t i = 0; i < impl_->used; ++i) {
    auto& [before, after] = impl_->events[i];
    after.synchronize();
    impl_->total += static_cast<double>(before.elapsed_time(after)) / 1e3;
  }
  impl_->used = 0;
#endif
  return impl_->total;
}

}  // namespace dtbench
