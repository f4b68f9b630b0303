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
  Watchdog& w = Watchdog::instance();
  // A communication failure once the world is up (a timeout the store noticed before the
  // watchdog did, a peer gone) takes the watchdog's way out too: the comm trace and the desync
  // report, then the backends' aborts.
  const bool comm_failure = code == static_cast<int>(ExitCode::kRuntime) && w.world_up();
  if (code != static_cast<int>(ExitCode::kUsage) && (w.has_abort_hooks() || comm_failure))
    w.fatal(line, code, message);  // does not return
  w.last_words(message, code);     // one report per process: returns only on the first failing path
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
