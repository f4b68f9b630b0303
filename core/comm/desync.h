// The desync report (docs/ARCHITECTURE.md, "Diagnosis"): from the comm traces the ranks wrote
// when a job hung (their last 64 ops, each with its state), which rank is behind, at which op
// and sequence number, what the others wait in and since when, and where ranks disagree on
// an op. A pure function of the traces, so that rank 0 prints it in the job and
// `dtbench-trace desync RUN_DIR` prints the same afterwards.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dtbench {

inline constexpr const char* kCommTraceSchema = "dtbench.comm_trace/v1";

// One op of a rank's trace, as comm_trace.rank<R>.json holds it.
struct TracedOp {
  std::string comm, group;  // communicator name and its world ranks ("0-3"; "" for a blocking call)
  uint64_t seq = 0;
  std::string op;  // "all_gather float x 1024 out-of-place"
  int64_t bytes = 0;
  std::string context;  // "step 3 / fsdp unit 7 forward"
  std::string state;    // "enqueued", "started", "done" or "failed" (ended with an error, not finished)
  double age_s = 0;     // seconds since it was issued, when the trace was written
};

struct RankTrace {
  int rank = 0;
  int world_size = 0;
  std::string host, reason;
  double written_unix = 0;
  std::vector<std::string> hosts;  // every rank's host, where the world was up
  std::vector<TracedOp> ops;       // oldest first
};

nlohmann::json trace_to_json(const RankTrace& t);
// Exit 2 naming `where` when a field is missing or of the wrong type, or the schema differs.
RankTrace trace_from_json(const nlohmann::json& j, const std::string& where);

// "0-3,6" -> {0,1,2,3,6}; empty for "" or text that is not a rank list.
std::vector<int> parse_rank_ranges(const std::string& text);

// The report's lines (without a prefix), for a world of `world_size` ranks of which `traces`
// holds those that wrote one.
std::vector<std::string> desync_report(const std::map<int, RankTrace>& traces, int world_size);

}  // namespace dtbench
