#include "core/report/nccl_log.h"

#include "core/report/files.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <thread>

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

namespace {

// NCCL's own expansion of NCCL_DEBUG_FILE: %h the host name up to its first dot, %p the pid.
std::string expand_nccl_file_name(const std::string& pattern) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string h(host);
  h = h.substr(0, h.find('.'));
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size() && (pattern[i + 1] == 'h' || pattern[i + 1] == 'p')) {
      out += pattern[i + 1] == 'h' ? h : std::to_string(::getpid());
      ++i;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Which of NCCL's lines the user's NCCL_DEBUG level would have printed.
bool user_wants(const std::string& level, const std::string& line) {
  if (level == "INFO" || level == "TRACE") return true;
  if (line.find("NCCL version") != std::string::npos) return !level.empty();
  return (level == "WARN" || level == "ABORT") && line.find("NCCL WARN") != std::string::npos;
}

// Drains the pipe NCCL writes into: every line to ours, the user's share to theirs.
void tee_lines(int fd, FILE* ours, FILE* theirs, const std::string& level) {
  std::string pending;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      const std::string line = pending.substr(start, nl + 1 - start);
      std::fputs(line.c_str(), ours);
      std::fflush(ours);
      if (theirs && user_wants(level, line)) {
        std::fputs(line.c_str(), theirs);
        std::fflush(theirs);
      }
      start = nl + 1;
    }
    pending.erase(0, start);
  }
}

}  // namespace

std::string capture_nccl_log(const std::string& run_dir, int rank) {
  const char* level_env = std::getenv("NCCL_DEBUG");
  const char* file_env = std::getenv("NCCL_DEBUG_FILE");
  const char* subsys_env = std::getenv("NCCL_DEBUG_SUBSYS");
  const std::string level = level_env ? upper(level_env) : "";
  make_dirs(run_dir);
  std::string path = fmt::format("{}/nccl.rank{}.log", run_dir, rank);
  FILE* ours = std::fopen(path.c_str(), "w");
  if (!ours) return "";
  // Where the user asked NCCL's lines to go: their file, or stdout when they set a level only.
  FILE* theirs = nullptr;
  if (file_env && *file_env)
    theirs = std::fopen(expand_nccl_file_name(file_env).c_str(), "w");
  else if (!level.empty())
    theirs = stdout;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::fclose(ours);
    return "";
  }
  // INFO with INIT and NET at least: the lines that name the network. A user's lower level
  // still gets only its own lines (user_wants); their sub-systems gain INIT and NET.
  if (level != "INFO" && level != "TRACE") ::setenv("NCCL_DEBUG", "INFO", 1);
  std::string subsys = subsys_env ? subsys_env : "";
  if (subsys.empty()) {
    subsys = "INIT,BOOTSTRAP,ENV,NET";  // NCCL's default set, and NET
  } else if (subsys[0] != '^') {
    for (const char* need : {"INIT", "NET"})
      if (("," + upper(subsys) + ",").find(fmt::format(",{},", need)) == std::string::npos)
        subsys += fmt::format(",{}", need);
  }
  ::setenv("NCCL_DEBUG_SUBSYS", subsys.c_str(), 1);
  ::setenv("NCCL_DEBUG_FILE", fmt::format("/proc/self/fd/{}", fds[1]).c_str(), 1);
  std::thread([fd = fds[0], ours, theirs, level] { tee_lines(fd, ours, theirs, level); }).detach();
  return path;
}

}  // namespace dtbench
