#include "core/report/log.h"

#include <unistd.h>

#include <atomic>

namespace dtbench {

namespace {
std::atomic<int> g_rank{-1};
}

void set_log_rank(int rank) { g_rank = rank; }

void log_line(const std::string& message) {
  const int r = g_rank;
  std::string line =
      r < 0 ? fmt::format("[dtbench rank ?] {}\n", message) : fmt::format("[dtbench rank {}] {}\n", r, message);
  // One write(2) per line keeps lines of concurrent threads and ranks whole.
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace dtbench
