#include "core/report/efa_counters.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "core/report/files.h"

namespace dtbench {

namespace {

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

// The last path component of a symlink's target ("../../../bus/pci/drivers/efa" -> "efa").
std::string link_basename(const std::string& path) {
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string target(buf, static_cast<size_t>(n));
  return target.substr(target.find_last_of('/') + 1);
}

}  // namespace

std::string sysfs_root() {
  const char* r = std::getenv("DTBENCH_SYSFS_ROOT");
  return r && *r ? r : "/sys";
}

const std::vector<std::string>& efa_traffic_counters() {
  static const std::vector<std::string> names = {
      "tx_bytes",        "rx_bytes",         "tx_pkts",      "rx_pkts",
      "rdma_read_bytes", "rdma_write_bytes", "retrans_pkts", "retrans_timeout_events"};
  return names;
}

std::vector<EfaDevice> read_efa_devices(const std::string& root) {
  std::vector<EfaDevice> out;
  const std::string base = root + "/class/infiniband";
  std::vector<std::string> names = list_dir(base);
  std::sort(names.begin(), names.end());
  for (const std::string& dev : names) {
    if (link_basename(fmt::format("{}/{}/device/driver", base, dev)) != "efa") continue;
    EfaDevice d{dev, {}};
    const std::string ports = fmt::format("{}/{}/ports", base, dev);
    for (const std::string& port : list_dir(ports)) {
      const std::string dir = fmt::format("{}/{}/hw_counters", ports, port);
      for (const std::string& c : list_dir(dir)) {
        const std::string v = read_line(fmt::format("{}/{}", dir, c));
        char* end = nullptr;
        const long long n = std::strtoll(v.c_str(), &end, 10);
        if (!v.empty() && end && *end == '\0') d.counters[c] += n;
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

nlohmann::json efa_counter_delta(const std::vector<EfaDevice>& before, const std::vector<EfaDevice>& after) {
  nlohmann::json out = {{"devices", nlohmann::json::array()}};
  for (const auto& name : {"tx_bytes", "rx_bytes", "retrans_pkts"}) out[name] = 0;
  for (const EfaDevice& a : after) {
    const EfaDevice* b = nullptr;
    for (const EfaDevice& x : before)
      if (x.name == a.name) b = &x;
    if (!b) continue;
    nlohmann::json dev = {{"name", a.name}};
    for (const std::string& c : efa_traffic_counters()) {
      auto ia = a.counters.find(c), ib = b->counters.find(c);
      if (ia == a.counters.end() || ib == b->counters.end()) continue;
      const int64_t d = ia->second - ib->second;
      dev[c] = d;
      if (out.contains(c)) out[c] = out[c].get<int64_t>() + d;
    }
    out["devices"].push_back(dev);
  }
  return out;
}

}  // namespace dtbench
