// The loaded libfabric's version, for the record (built with DTBENCH_WITH_LIBFABRIC).
#pragma once

namespace dtbench {
void record_libfabric_version();
}
