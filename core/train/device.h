// The device a training rank computes on and what is measured about it: its peak FLOP/s
// for MFU, its peak memory, and a step timer that measures the device's work, not the
// host's (CUDA events on GPU).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>

#include "core/comm/communicator.h"
#include "core/comm/world.h"

namespace dtbench {

// cuda:<local rank> when the world runs on GPUs (it made it the current device), else cpu.
at::Device rank_device(const World& world);

struct PeakFlops {
  double flops = 0;
  std::string source;  // "--peak-tflops", "table: NVIDIA H200 bf16", "measured: ..."
};

// Dense peak FLOP/s per device from the datasheet table (H100/H200 SXM, A100, B200; bf16
// and fp32 without TF32); 0 when the GPU is not in it.
double table_peak_flops(const std::string& gpu_name, at::ScalarType dtype);

// The peak MFU is computed against: `user_tflops` (> 0) if given, else the table for a GPU,
// else a GEMM probe on the device (the slowest rank's, collective over `comm`).
PeakFlops device_peak_flops(Communicator& comm, const at::Device& device, at::ScalarType dtype, double user_tflops);

// FLOP/s of a square GEMM in `dtype` on `device`, measured for ~0.3 s.
double measure_gemm_flops(at::ScalarType dtype, const at::Device& device);

// Peak memory of this rank: RSS on CPU, the caching allocator's peak on GPU.
int64_t peak_memory_bytes(const at::Device& device);

// Times one step of device work: start() before it, stop_s() after it (waits for the device).
class StepTimer {
 public:
  virtual ~StepTimer() = default;
  virtual void start() = 0;
  virtual double stop_s() = 0;
};
std::unique_ptr<StepTimer> make_step_timer(const at::Device& device);

}  // namespace dtbench
