// The loaded libfabric: its version for the record, and the providers it offers here
// (built with DTBENCH_WITH_LIBFABRIC).
#pragma once

#include <string>
#include <vector>

namespace dtbench {

void record_libfabric_version();

// "1.17" from fi_version().
std::string libfabric_version();

// The core providers libfabric offers here, sorted ("efa", "shm", "tcp", ...; "tcp;ofi_rxm"
// counts as "tcp").
std::vector<std::string> libfabric_providers();

}  // namespace dtbench
