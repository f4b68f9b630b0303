// Records the loaded libfabric's version (built with DTBENCH_WITH_LIBFABRIC).
#include <fmt/format.h>
#include <rdma/fabric.h>

#include "core/comm/fabric_version.h"
#include "core/report/system_info.h"

namespace dtbench {

void record_libfabric_version() {
  const uint32_t v = fi_version();
  set_system_info("libfabric", fmt::format("{}.{}", FI_MAJOR(v), FI_MINOR(v)));
}

}  // namespace dtbench
