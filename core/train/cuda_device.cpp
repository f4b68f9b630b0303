#include "core/train/cuda_device.h"

#include "core/report/errors.h"
#include "core/train/device.h"

#ifdef DTBENCH_WITH_NCCL
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace dtbench {

#ifdef DTBENCH_WITH_NCCL

namespace {

class CudaTimer final : public StepTimer {
 public:
  explicit CudaTimer(int device) : device_(static_cast<c10::DeviceIndex>(device)) {}
  void start() override { begin_.record(c10::cuda::getCurrentCUDAStream(device_)); }
  double stop_s() override {
    end_.record(c10::cuda::getCurrentCUDAStream(device_));
    end_.synchronize();
    return static_cast<double>(begin_.elapsed_time(end_)) / 1e3;
  }

 private:
  c10::DeviceIndex device_;
  at::cuda::CUDAEvent begin_{cudaEventDefault}, end_{cudaEventDefault};
};

}  // namespace

int64_t cuda_peak_allocated_bytes(int device) {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
}

std::unique_ptr<StepTimer> make_cuda_step_timer(int device) { return std::make_unique<CudaTimer>(device); }

int64_t cuda_free_bytes(int device) {
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
  std::size_t free = 0, total = 0;
  const cudaError_t rc = cudaMemGetInfo(&free, &total);
  DT_CHECK(rc == cudaSuccess, "cudaMemGetInfo on GPU {}: {}", device, cudaGetErrorString(rc));
  return static_cast<int64_t>(free);
}

std::string cuda_pci_id(int device) {
  char bus[32] = {0};
  const cudaError_t rc = cudaDeviceGetPCIBusId(bus, sizeof bus, device);
  DT_CHECK(rc == cudaSuccess, "cudaDeviceGetPCIBusId on GPU {}: {}", device, cudaGetErrorString(rc));
  return std::string(bus).substr(0, 10);  // "0000:1b:00.0" without the function
}

#else

int64_t cuda_peak_allocated_bytes(int) {
  DT_CHECK(false, "this build has no CUDA");
  return 0;
}
std::unique_ptr<StepTimer> make_cuda_step_timer(int) {
  DT_CHECK(false, "this build has no CUDA");
  return nullptr;
}
int64_t cuda_free_bytes(int) {
  DT_CHECK(false, "this build has no CUDA");
  return 0;
}

std::string cuda_pci_id(int) {
  DT_CHECK(false, "this build has no CUDA");
  return "";
}

#endif

}  // namespace dtbench
