// kernel_check: every fused kernel against its oracle, forward and backward, fp32 and bf16
// (kernel_cases.h), printed as a table.
//   kernel_check --device cpu    the CPU references, through the model's glue and autograd
//                                functions, against the model's ATen code (runs anywhere)
//   kernel_check --device cuda   the CUDA kernels against the CPU references
// Exit 4 when any row is off by more than its tolerance.
#include <ATen/Context.h>
#include <fmt/format.h>

#include <cstdio>

#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/report/errors.h"
#include "kernels/dispatch.h"
#include "tools/kernel_check/kernel_cases.h"

using namespace dtbench;

int main(int argc, char** argv) {
  return run_guarded("kernel_check", [&] {
    cxxopts::Options o("kernel_check", "Every fused kernel against its oracle; exit 4 on any mismatch.");
    // clang-format off
    o.add_options()
        ("h,help", "print this help and exit")
        ("device", "cpu: the CPU references against the model's ATen code; cuda: the CUDA kernels against the "
                   "CPU references", cxxopts::value<std::string>()->default_value("cpu"), "D")
        ("seed", "seed of the random inputs", number<uint64_t>()->default_value("1234"), "N");
    // clang-format on
    auto r = parse_flags(o, argc, argv);
    const std::string device = r["device"].as<std::string>();
    DT_USAGE(device == "cpu" || device == "cuda", "--device {}: use cpu or cuda", device);
    if (device == "cuda") {
      DT_USAGE(at::hasCUDA(), "--device cuda: no CUDA device is visible (or libtorch is a CPU build)");
      DT_USAGE(kernels::available(), "--device cuda: this build has no CUDA kernels, or DTBENCH_FUSED_KERNELS=0");
    }
    const uint64_t seed = r["seed"].as<uint64_t>();
    std::printf("# dtbench kernel_check: device %s, seed %llu: %s\n", device.c_str(),
                static_cast<unsigned long long>(seed),
                device == "cuda" ? "CUDA kernels against the CPU references"
                                 : "CPU references (glue + autograd) against the model's ATen code");
    std::printf("%-14s %-5s %-11s %11s %11s %9s  %s\n", "op", "dtype", "tensor", "max_abs", "max_rel", "tol",
                "verdict");
    int failed = 0;
    const auto rows = kernels::run_kernel_checks(device == "cuda" ? at::Device(at::kCUDA) : at::Device(at::kCPU), seed);
    for (const kernels::CheckRow& row : rows) {
      std::printf("%-14s %-5s %-11s %11.3e %11.3e %9.0e  %s\n", row.op.c_str(), row.dtype.c_str(), row.tensor.c_str(),
                  row.max_abs, row.max_rel, row.tol, row.pass ? "ok" : "MISMATCH");
      failed += row.pass ? 0 : 1;
    }
    std::printf("# %zu checks, %d off tolerance\n", rows.size(), failed);
    std::fflush(stdout);
    if (failed > 0) throw CorrectnessFailure(fmt::format("{} of {} kernel checks off tolerance", failed, rows.size()));
    return 0;
  });
}
