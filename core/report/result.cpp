#include "core/report/result.h"

#include "core/report/clock.h"
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
  write_file_atomic(path, record.dump(2) + "\n");
}

}  // namespace dtbench
