// What the machine and its software are, for the record's "system" object.
//
// Layers fill what they own (comm adds MPI and NCCL versions, the CUDA glue adds GPU,
// driver and CUDA), so that this file needs none of them.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace dtbench {

// The process-wide system object; starts with host, cpu and libtorch.
nlohmann::json& system_info();

// Sets system_info()[key] = value (thread-safe).
void set_system_info(const std::string& key, nlohmann::json value);

// NCCL_*, FI_*, OFI_NCCL_*, CUDA_* variables of this process, values only for the allowlist of
// core/report/recorded_env.h. Read after communicator init, so that what the libraries set is
// seen too.
nlohmann::json fabric_environment();

std::string short_hostname();

// /proc/meminfo's value for `key` ("MemAvailable", "HugePages_Free"), in its unit (kB for
// sizes); -1 when absent.
int64_t meminfo_kib(const std::string& key);

// The CPUs this process may run on: its affinity mask (what taskset, numactl, Slurm's task
// binding, a Kubernetes cpuset or a virtual node give it), which std::thread::hardware_concurrency
// ignores; all online CPUs when the mask cannot be read.
int usable_cpus();

// Peak resident set size of this process, bytes (the CPU's peak memory).
int64_t peak_rss_bytes();

}  // namespace dtbench
