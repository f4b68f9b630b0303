// Exit codes and the errors that carry them (docs/ARCHITECTURE.md, "Exit codes").
//
// Code below main() throws; the one catch in app/main_guard turns the error into its
// exit code and one line on stderr. Usage errors say what was wrong and what would be
// right; internal checks (DT_CHECK) also name the file and line, loudly.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace dtbench {

enum class ExitCode : int {
  kOk = 0,
  kUsage = 2,        // bad usage or config, found before any communication
  kRuntime = 3,      // communication timeout, a peer died, I/O
  kCorrectness = 4,  // wrong collective result, NaN/Inf loss, parity failed, unmet --expect
  kRegression = 5,   // the compare tool and the nightly run
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

struct UsageError : Error {
  explicit UsageError(const std::string& what) : Error(ExitCode::kUsage, what) {}
};
struct RuntimeFailure : Error {
  explicit RuntimeFailure(const std::string& what) : Error(ExitCode::kRuntime, what) {}
};
struct CorrectnessFailure : Error {
  explicit CorrectnessFailure(const std::string& what) : Error(ExitCode::kCorrectness, what) {}
};

[[noreturn]] void throw_check_failure(ExitCode code, const char* file, int line, const std::string& what);

}  // namespace dtbench

// A failed usage check: one line, cause and fix, exit 2.
#define DT_USAGE(cond, ...)                                             \
  do {                                                                  \
    if (!(cond)) throw ::dtbench::UsageError(fmt::format(__VA_ARGS__)); \
  } while (0)

// An internal invariant or a failed system call: message plus file:line, exit 3.
#define DT_CHECK(cond, ...)                                                                                        \
  do {                                                                                                             \
    if (!(cond))                                                                                                   \
      ::dtbench::throw_check_failure(::dtbench::ExitCode::kRuntime, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)
