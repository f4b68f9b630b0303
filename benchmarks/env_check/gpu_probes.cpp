// The GPU-side probes: devices, driver and CUDA runtime, peer access between local GPUs,
// and NCCL (the library actually loaded, and its net plugin). Without a CUDA build or a GPU
// they say so plainly.
#include <ATen/Context.h>
#include <fmt/format.h>

#include "benchmarks/env_check/check.h"
#include "benchmarks/env_check/nccl_plugin.h"
#include "core/report/system_info.h"

#ifdef DTBENCH_WITH_NCCL
#include <cuda_runtime_api.h>
#include <nccl.h>

#include "core/comm/nccl_world.h"
#endif

namespace dtbench::envcheck {

void probe_gpus(Facts& f, std::vector<Check>& out) {
  f.gpus = static_cast<int>(at::getNumGPUs());
  const nlohmann::json driver = system_info().value("driver", std::string());
  if (f.gpus == 0) {
    out.push_back(warn("gpus", 0,
                       driver.get<std::string>().empty() ? "no GPU visible: no NVIDIA driver loaded here"
                                                         : "no GPU visible (CUDA_VISIBLE_DEVICES or the container's "
                                                           "--gpus hides them)"));
    return;
  }
#ifdef DTBENCH_WITH_NCCL
  record_gpu_info(0);
  const nlohmann::json info = system_info();
  std::vector<std::string> names;
  for (int d = 0; d < f.gpus; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) == cudaSuccess) names.push_back(prop.name);
  }
  out.push_back(ok("gpus", f.gpus, names.empty() ? "" : names.front()));
  out.push_back(ok("driver", driver, "CUDA " + info.value("driver_cuda", std::string("?")) + " supported"));
  out.push_back(ok("cuda_runtime", info.value("cuda", std::string("?"))));
  // Every pair of local GPUs should reach each other directly (NVLink/NVSwitch on p4d/p5).
  std::vector<std::string> blocked;
  for (int a = 0; a < f.gpus; ++a)
    for (int b = 0; b < f.gpus; ++b) {
      int can = 0;
      if (a != b && cudaDeviceCanAccessPeer(&can, a, b) == cudaSuccess && !can)
        blocked.push_back(fmt::format("{}->{}", a, b));
    }
  if (blocked.empty())
    out.push_back(ok("gpu_peer_access", "all pairs"));
  else
    out.push_back(warn("gpu_peer_access", blocked,
                       fmt::format("{} GPU pairs cannot access each other directly: traffic between them goes "
                                   "through host memory",
                                   blocked.size())));
#else
  out.push_back(warn("gpus", f.gpus, "GPUs visible, but this dtbench was built without CUDA: rebuild with nvcc"));
#endif
}

void probe_nccl(Facts& f, std::vector<Check>& out) {
#ifdef DTBENCH_WITH_NCCL
  try {
    nccl_check_library();
    const nlohmann::json n = system_info()["nccl"];
    out.push_back(ok("nccl", n["version"], n["library"].get<std::string>()));
  } catch (const std::exception& e) {
    out.push_back(fail("nccl", nullptr, e.what()));
  }
#else
  out.push_back(ok("nccl", "not built", "built without CUDA: no NCCL"));
#endif
  probe_nccl_plugin(f, out);
}

}  // namespace dtbench::envcheck
