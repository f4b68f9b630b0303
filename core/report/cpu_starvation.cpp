#include "core/report/cpu_starvation.h"

#include <dirent.h>

#include <fstream>
#include <sstream>
#include <string>

namespace dtbench {

namespace {

// Run delay of every thread of this process, in ns.
double run_delay_ns() {
  double total = 0;
  DIR* dir = ::opendir("/proc/self/task");
  if (!dir) return 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/schedstat");
    double run = 0, delay = 0;
    if (in >> run >> delay) total += delay;
  }
  ::closedir(dir);
  return total;
}

// This process's cpu cgroup's cpu.stat, found once: v2 ("0::/path", throttled_usec) or v1
// ("N:cpu,cpuacct:/path" or "N:cpu:/path", throttled_time in ns). "" when there is none.
struct CgroupStat {
  std::string path;
  const char* key = "";
  double to_s = 0;
};

CgroupStat find_cgroup_stat() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.empty()) {
      const std::string stat = "/sys/fs/cgroup" + path + "/cpu.stat";
      if (std::ifstream(stat).good()) return {stat, "throttled_usec", 1e-6};
    }
    std::stringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ','))
      if (c == "cpu")
        for (const char* mount : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"}) {
          const std::string stat = std::string(mount) + path + "/cpu.stat";
          if (std::ifstream(stat).good()) return {stat, "throttled_time", 1e-9};
        }
  }
  return {};
}

double throttled_s() {
  static const CgroupStat stat = find_cgroup_stat();
  if (stat.path.empty()) return 0;
  std::ifstream in(stat.path);
  std::string key;
  double value = 0;
  while (in >> key >> value)
    if (key == stat.key) return value * stat.to_s;
  return 0;
}

}  // namespace

double cpu_starved_s() { return run_delay_ns() * 1e-9 + throttled_s(); }

}  // namespace dtbench
