#include "core/train/profile_window.h"

#include <fmt/format.h>

#include <cstdint>

#include "core/report/errors.h"
#include "core/report/numbers.h"

#ifdef DTBENCH_WITH_NCCL
#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>
#include <nvtx3/nvToolsExt.h>
#endif

namespace dtbench {

void add_profile_flag(cxxopts::Options& options, const std::string& step) {
  options.add_options("profiling")(
      "profile-steps",
      fmt::format("CUDA: {} A..B (1-based) inside cudaProfilerStart/Stop and an NVTX range, for nsys "
                  "--capture-range=cudaProfilerApi (NSYS=1 in slurm/ and k8s/ does that)",
                  step),
      cxxopts::value<std::string>(), "A-B");
}

StepRange read_profile_flag(const cxxopts::ParseResult& r, int64_t max_step, const std::string& device) {
  StepRange range;
  if (!r.count("profile-steps")) return range;
  const std::string text = r["profile-steps"].as<std::string>();
  DT_USAGE(device == "cuda",
           "--profile-steps {}: needs --device cuda (it starts and stops the CUDA profiler for nsys); the CPU path "
           "has none",
           text);
  const auto number = [&](const std::string& s) {
    int64_t n = 0;
    DT_USAGE(read_integer(s, 0, INT64_MAX, n).empty(), "--profile-steps {}: want A-B (1-based, e.g. 5-7) or one step A",
             text);
    return n;
  };
  const auto dash = text.find('-');
  range.first = number(text.substr(0, dash));
  range.last = dash == std::string::npos ? range.first : number(text.substr(dash + 1));
  DT_USAGE(range.first >= 1 && range.first <= range.last, "--profile-steps {}: want 1 <= A <= B", text);
  DT_USAGE(range.last <= max_step, "--profile-steps {}: the run has {} steps; profile steps inside it", text, max_step);
  return range;
}

ProfileWindow::ProfileWindow(StepRange range) : range_(range) {}

ProfileWindow::~ProfileWindow() {
#ifdef DTBENCH_WITH_NCCL
  if (!running_) return;
  nvtxRangeEnd(nvtx_);
  cudaProfilerStop();  // unwinding: report nothing, throw nothing
#endif
}

void ProfileWindow::begin(int64_t step) {
  if (range_.empty() || step != range_.first) return;
#ifdef DTBENCH_WITH_NCCL
  const cudaError_t rc = cudaProfilerStart();
  DT_CHECK(rc == cudaSuccess, "cudaProfilerStart before step {}: {}", step, cudaGetErrorString(rc));
  running_ = true;
  // A start/end range, not a Span: it outlives the step's span that opened it.
  nvtx_ = nvtxRangeStartA(fmt::format("profiled steps {}-{}", range_.first, range_.last).c_str());
#else
  DT_CHECK(false, "--profile-steps: this build has no CUDA");
#endif
}

void ProfileWindow::end(int64_t step) {
  if (range_.empty() || step != range_.last || !running_) return;
#ifdef DTBENCH_WITH_NCCL
  running_ = false;
  nvtxRangeEnd(nvtx_);
  const cudaError_t rc = cudaProfilerStop();
  DT_CHECK(rc == cudaSuccess, "cudaProfilerStop after step {}: {}", step, cudaGetErrorString(rc));
#endif
}

}  // namespace dtbench
