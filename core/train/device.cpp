#include "core/train/device.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "core/report/clock.h"
#include "core/report/system_info.h"
#include "core/train/cuda_device.h"

namespace dtbench {

namespace {

class HostTimer final : public StepTimer {
 public:
  void start() override { clock_.reset(); }
  double stop_s() override { return clock_.elapsed_s(); }

 private:
  Stopwatch clock_;
};

}  // namespace

at::Device rank_device(const World& world) {
  return world.device_index >= 0 ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(world.device_index))
                                 : at::Device(at::kCPU);
}

double table_peak_flops(const std::string& gpu, at::ScalarType dtype) {
  struct Row {
    const char* name;  // matched as a substring of the CUDA device name, first match wins
    double bf16, fp32;
  };
  // NVIDIA datasheets, dense (no sparsity); fp32 is the CUDA-core rate (libtorch keeps TF32
  // off for matmuls by default).
  static const Row rows[] = {
      {"H100 PCIe", 756e12, 51e12}, {"H100", 989e12, 67e12},  {"H200", 989e12, 67e12},  {"H800", 989e12, 67e12},
      {"A100", 312e12, 19.5e12},    {"B200", 2.25e15, 80e12}, {"GB200", 2.5e15, 80e12},
  };
  for (const Row& r : rows)
    if (gpu.find(r.name) != std::string::npos) return dtype == at::kBFloat16 ? r.bf16 : r.fp32;
  return 0;
}

double measure_gemm_flops(at::ScalarType dtype, const at::Device& device) {
  const int64_t n = device.is_cuda() ? 4096 : 512;
  const auto opt = at::TensorOptions().dtype(dtype).device(device);
  at::Tensor a = at::randn({n, n}, opt), b = at::randn({n, n}, opt), c = at::empty({n, n}, opt);
  auto timer = make_step_timer(device);
  at::mm_out(c, a, b);  // warm up
  int64_t reps = 0;
  double elapsed = 0;
  while (elapsed < 0.3) {
    timer->start();
    for (int i = 0; i < 10; ++i) at::mm_out(c, a, b);
    elapsed += timer->stop_s();
    reps += 10;
  }
  return 2.0 * static_cast<double>(n * n * n) * static_cast<double>(reps) / elapsed;
}

PeakFlops device_peak_flops(Communicator& comm, const at::Device& device, at::ScalarType dtype, double user_tflops) {
  const char* dt = dtype == at::kBFloat16 ? "bf16" : "fp32";
  if (user_tflops > 0) return {user_tflops * 1e12, "--peak-tflops"};
  if (device.is_cuda()) {
    const std::string name = system_info().contains("gpu") ? system_info()["gpu"].value("name", "") : "";
    if (const double t = table_peak_flops(name, dtype); t > 0) return {t, fmt::format("table: {} {}", name, dt)};
  }
  double peak = measure_gemm_flops(dtype, device);
  for (auto& s : comm.control().all_gather(fmt::format("{:.17g}", peak))) peak = std::min(peak, std::stod(s));
  return {peak, fmt::format("measured: {} GEMM probe on {} at start-up", dt, device.is_cuda() ? "the GPU" : "the CPU")};
}

int64_t peak_memory_bytes(const at::Device& device) {
  return device.is_cuda() ? cuda_peak_allocated_bytes(device.index()) : peak_rss_bytes();
}

std::unique_ptr<StepTimer> make_step_timer(const at::Device& device) {
  if (device.is_cuda()) return make_cuda_step_timer(device.index());
  return std::make_unique<HostTimer>();
}

}  // namespace dtbench
