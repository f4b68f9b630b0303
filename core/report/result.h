// The result record (docs/ARCHITECTURE.md, "Result record", schema dtbench.result/v1).
//
// One JSON object per run, written by rank 0 atomically: a temp file in the target's
// folder, fsync, rename. A failed run writes a record with status "failed" and the error;
// a crash leaves no partial file.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/report/stats.h"

namespace dtbench {

inline constexpr const char* kResultSchema = "dtbench.result/v1";

// A record with every top-level key of the schema, status "ok", started_at now.
nlohmann::json new_result_record(const std::string& benchmark);

// {median, p10, p90, mean, min, max, n}.
nlohmann::json to_json(const Summary& s);

// Writes `record` to `path` atomically; throws RuntimeFailure naming the path on I/O errors.
void write_json_atomic(const std::string& path, const nlohmann::json& record);

// The commit this binary was built from ("unknown" outside a git checkout).
const char* build_git_sha();

}  // namespace dtbench
