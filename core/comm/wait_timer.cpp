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
  // Before and after each wait, on the compute stream; resolved into `total` by total_s().
  mutable std::vector<std::pair<std::unique_ptr<at::cuda::CUDAEvent>, std::unique_ptr<at::cuda::CUDAEvent>>> pending;
#endif
};

WaitTimer::WaitTimer(at::Device device) : impl_(std::make_unique<Impl>(Impl{device})) {}
WaitTimer::~WaitTimer() = default;

const char* WaitTimer::method(at::Device device) { return device.is_cuda() ? "cuda_events" : "host"; }

void WaitTimer::time(const std::function<void()>& wait) {
#ifdef DTBENCH_WITH_NCCL
  if (impl_->device.is_cuda()) {
    const auto stream = c10::cuda::getCurrentCUDAStream(impl_->device.index());
    auto before = std::make_unique<at::cuda::CUDAEvent>(cudaEventDefault);
    auto after = std::make_unique<at::cuda::CUDAEvent>(cudaEventDefault);
    before->record(stream);
    wait();
    after->record(stream);
    impl_->pending.emplace_back(std::move(before), std::move(after));
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
  for (auto& [before, after] : impl_->pending) {
    after->synchronize();
    impl_->total += static_cast<double>(before->elapsed_time(*after)) / 1e3;
  }
  impl_->pending.clear();
#endif
  return impl_->total;
}

}  // namespace dtbench
