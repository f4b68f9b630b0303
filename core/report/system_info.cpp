#include "core/report/system_info.h"

#include <torch/headeronly/version.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/report/recorded_env.h"

extern char** environ;

namespace dtbench {

namespace {

std::mutex g_mu;

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto pos = line.find(':');
      if (pos != std::string::npos) return line.substr(line.find_first_not_of(' ', pos + 1));
    }
  }
  return "unknown";
}

// The kernel driver's version from /proc ("" when there is no NVIDIA driver).
std::string nvidia_driver() {
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  if (!std::getline(in, line)) return "";
  auto pos = line.find("Kernel Module");
  if (pos == std::string::npos) return line;
  std::string rest = line.substr(pos + 13);
  rest = rest.substr(rest.find_first_not_of(' '));
  return rest.substr(0, rest.find(' '));
}

}  // namespace

std::string short_hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  std::string h(buf);
  return h.substr(0, h.find('.'));
}

int64_t meminfo_kib(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string k, unit;
  int64_t v = 0;
  while (in >> k >> v) {
    std::getline(in, unit);
    if (k == key + ":") return v;
  }
  return -1;
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int64_t peak_rss_bytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

nlohmann::json& system_info() {
  static nlohmann::json info = {
      {"hosts", nlohmann::json::array({short_hostname()})},
      {"cpu", {{"model", cpu_model()}, {"cores", std::thread::hardware_concurrency()}, {"usable", usable_cpus()}}},
      {"libtorch", TORCH_VERSION},
      {"driver", nvidia_driver()},
  };
  return info;
}

void set_system_info(const std::string& key, nlohmann::json value) {
  std::lock_guard<std::mutex> lock(g_mu);
  system_info()[key] = std::move(value);
}

nlohmann::json fabric_environment() {
  std::vector<std::pair<std::string, std::string>> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return recorded_environment(env);
}

}  // namespace dtbench
