#include "kernels/check.h"

#include <fmt/format.h>

#include <string>

#include "core/report/errors.h"

namespace dtbench::kernels {

namespace {

// The path from "kernels/" on, as the core's checks print theirs from "core/".
const char* short_path(const char* file) {
  const std::string f = file;
  const auto pos = f.rfind("kernels/");
  return pos == std::string::npos ? file : file + pos;
}

}  // namespace

void fail_check(const char* what, const char* file, int line) {
  throw_check_failure(ExitCode::kRuntime, short_path(file), line, what);
}

void fail_cuda(const char* name, const char* text, const char* call, const char* file, int line) {
  throw_check_failure(ExitCode::kRuntime, short_path(file), line,
                      fmt::format("CUDA error {} ({}) in {}", name, text, call));
}

}  // namespace dtbench::kernels
