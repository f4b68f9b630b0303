#include "core/app/main_guard.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <cstdio>

#include "core/comm/watchdog.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {

int fail(const char* program, const std::string& message, int code) {
  const std::string line = fmt::format("{}: error: {}", program, message);
  if (code != static_cast<int>(ExitCode::kUsage) && Watchdog::instance().has_abort_hooks())
    Watchdog::instance().fatal(line, code);  // does not return
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n", line.c_str());
  return code;
}

}  // namespace

int run_guarded(const char* program, const std::function<int()>& body) {
  Watchdog::install_signal_handling();
  try {
    return body();
  } catch (const Error& e) {
    return fail(program, e.what(), static_cast<int>(e.code()));
  } catch (const c10::Error& e) {
    return fail(program, e.what_without_backtrace(), static_cast<int>(ExitCode::kRuntime));
  } catch (const std::exception& e) {
    return fail(program, e.what(), static_cast<int>(ExitCode::kRuntime));
  }
}

}  // namespace dtbench
