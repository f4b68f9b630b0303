// NVTX ranges, so that Nsight Systems timelines name steps, FSDP units and collectives.
// NVTX v3 is header-only and costs a branch when no tool is attached; builds without the
// CUDA toolkit get an empty range.
#pragma once

#ifdef DTBENCH_WITH_NCCL
#include <nvtx3/nvToolsExt.h>
#endif

#include <string>

namespace dtbench {

class NvtxRange {
 public:
  explicit NvtxRange(const char* name) {
#ifdef DTBENCH_WITH_NCCL
    nvtxRangePushA(name);
#else
    (void)name;
#endif
  }
  explicit NvtxRange(const std::string& name) : NvtxRange(name.c_str()) {}
  ~NvtxRange() {
#ifdef DTBENCH_WITH_NCCL
    nvtxRangePop();
#endif
  }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace dtbench
