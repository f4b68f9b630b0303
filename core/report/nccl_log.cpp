#include "core/report/nccl_log.h"

#include "core/report/files.h"

#include <fmt/format.h>

#include <cstdlib>
#include <regex>

namespace dtbench {

namespace {

// The lines NCCL (2.18 - 2.28) and aws-ofi-nccl (1.7 - 1.17) print that tell the choice.
const std::regex kUsingNetwork(R"(NCCL INFO Using network (.+?)\s*$)");
const std::regex kLoadedPlugin(R"(NET/Plugin\s*:\s*Loaded net plugin (.+?)(?: \(v\d+\))?\s*$)");
const std::regex kOfiBanner(R"(NET/OFI Initializing aws-ofi-nccl (\S+))");
const std::regex kOfiProvider(R"(NET/OFI Selected [Pp]rovider is (\w+))");
const std::regex kChannel(R"(NCCL INFO Channel .* via NET/([^/]+)/\d+(/GDRDMA)?)");
const std::regex kWarn(R"(NCCL WARN)");

}  // namespace

NcclNetChoice parse_nccl_log(std::istream& in) {
  NcclNetChoice c;
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.find("NCCL") == std::string::npos) continue;
    ++c.lines;
    if (std::regex_search(line, m, kUsingNetwork))
      c.network = m[1];
    else if (std::regex_search(line, m, kLoadedPlugin))
      c.plugin = m[1];
    else if (std::regex_search(line, m, kOfiBanner))
      c.plugin_version = m[1];
    else if (std::regex_search(line, m, kOfiProvider))
      c.provider = m[1];
    else if (std::regex_search(line, m, kChannel)) {
      ++c.net_channels;
      if (m[2].matched) c.gdr = true;
    } else if (std::regex_search(line, kWarn) && c.warnings.size() < 20) {
      c.warnings.push_back(line);
    }
  }
  return c;
}

nlohmann::json to_json(const NcclNetChoice& c) {
  return {{"network", c.network},
          {"plugin", c.plugin},
          {"plugin_version", c.plugin_version},
          {"provider", c.provider},
          {"net_channels", c.net_channels},
          {"gdr", c.gdr},
          {"over_sockets", c.over_sockets()}};
}

std::string capture_nccl_log(const std::string& run_dir, int rank) {
  const char* user_file = std::getenv("NCCL_DEBUG_FILE");
  if (user_file && *user_file) return "";    // theirs: it may hold %h/%p patterns we cannot name
  if (std::getenv("NCCL_DEBUG")) return "";  // they want NCCL's lines where NCCL puts them
  make_dirs(run_dir);
  std::string path = fmt::format("{}/nccl.rank{}.log", run_dir, rank);
  ::setenv("NCCL_DEBUG", "INFO", 1);
  ::setenv("NCCL_DEBUG_SUBSYS", "INIT,NET", 1);
  ::setenv("NCCL_DEBUG_FILE", path.c_str(), 1);
  return path;
}

}  // namespace dtbench
