// Log lines. Every line names the rank, so that interleaved output of many ranks (mpirun,
// srun, kubectl logs) can be told apart; rank 0's figures go to stdout unprefixed.
#pragma once

#include <fmt/format.h>

#include <string>

namespace dtbench {

// Called once the launch environment is known; before that lines say "rank ?".
void set_log_rank(int rank);

// One line to stderr: "[dtbench rank R] message".
void log_line(const std::string& message);

template <typename... Args>
void logf(fmt::format_string<Args...> f, Args&&... args) {
  log_line(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace dtbench
