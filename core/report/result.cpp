#include "core/report/result.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/files.h"

namespace dtbench {

nlohmann::json new_result_record(const std::string& benchmark) {
  using nlohmann::json;
  return json{{"schema", kResultSchema},    {"benchmark", benchmark},          {"status", "ok"},
              {"error", nullptr},           {"started_at", utc_iso8601_now()}, {"duration_s", 0.0},
              {"git_sha", build_git_sha()}, {"config", json::object()},        {"launch", json::object()},
              {"system", json::object()},   {"metrics", json::object()},       {"steps", json::array()},
              {"rows", json::array()},      {"per_rank", json::array()}};
}

nlohmann::json to_json(const Summary& s) {
  return {{"median", s.median}, {"p10", s.p10}, {"p90", s.p90}, {"mean", s.mean},
          {"min", s.min},       {"max", s.max}, {"n", s.n}};
}

void write_json_atomic(const std::string& path, const nlohmann::json& record) {
  const std::string dir = parent_dir(path);
  const std::string why = make_dirs(dir);
  if (!why.empty()) throw RuntimeFailure(fmt::format("cannot create folder {} for {}: {}", dir, path, why));
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  const std::string text = record.dump(2) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw RuntimeFailure(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  const std::string failed = write_fully(fd, text.data(), text.size());
  if (!failed.empty()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw RuntimeFailure(fmt::format("cannot write {}: {}", tmp, failed));
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw RuntimeFailure(fmt::format("cannot write {}: {}", path, std::strerror(err)));
  }
  fsync_dir(dir);  // the rename is durable once the folder's entry is
}

}  // namespace dtbench
