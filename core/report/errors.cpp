#include "core/report/errors.h"

namespace dtbench {

void throw_check_failure(ExitCode code, const char* file, int line, const std::string& what) {
  std::string where = file;
  auto pos = where.rfind("core/");
  if (pos == std::string::npos) pos = where.rfind("benchmarks/");
  if (pos == std::string::npos) pos = where.rfind("kernels/");
  if (pos != std::string::npos) where = where.substr(pos);
  throw Error(code, fmt::format("{} ({}:{})", what, where, line));
}

}  // namespace dtbench
