// EFA devices and their hardware counters, read from sysfs: the proof that a run's bytes
// went over the fabric (docs/ARCHITECTURE.md, goal 4: "is EFA really used").
//
// An EFA device is an RDMA device under <sysfs>/class/infiniband whose driver is "efa";
// its counters are files in ports/<P>/hw_counters (tx_bytes, rx_bytes, retrans_pkts, ...).
// The sysfs root is "/sys" unless DTBENCH_SYSFS_ROOT names another tree (the tests build a
// fake one).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dtbench {

struct EfaDevice {
  std::string name;                         // rdmap16s27
  std::map<std::string, int64_t> counters;  // summed over the device's ports
};

// The sysfs root in use.
std::string sysfs_root();

// Every EFA device with its counters now (empty on a machine without EFA).
std::vector<EfaDevice> read_efa_devices(const std::string& root = sysfs_root());

// The counters that prove traffic, in the order records list them.
const std::vector<std::string>& efa_traffic_counters();

// after - before per device and counter (devices missing from either side are skipped):
// {"devices": [{"name", "tx_bytes", ...}], "tx_bytes": sum, "rx_bytes": sum, "retrans_pkts": sum}.
nlohmann::json efa_counter_delta(const std::vector<EfaDevice>& before, const std::vector<EfaDevice>& after);

}  // namespace dtbench
