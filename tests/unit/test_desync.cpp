// The desync report (core/comm/desync.h) on hand-made traces: each kind of hang or mismatch
// names the right rank, op and sequence number, and a healthy set of traces names nobody.
#include <catch2/catch.hpp>

#include <string>

#include "core/comm/desync.h"
#include "core/report/errors.h"

using namespace dtbench;

namespace {

TracedOp op(uint64_t seq, const std::string& what, const std::string& state, double age = 1,
            const std::string& context = "step 3 / fsdp unit 1 forward", int64_t bytes = 4096) {
  return TracedOp{"world", "0-3", seq, what, bytes, context, state, age};
}

RankTrace rank_trace(int r, std::vector<TracedOp> ops) {
  RankTrace t;
  t.rank = r;
  t.world_size = 4;
  t.host = r < 2 ? "node0" : "node1";
  t.hosts = {"node0", "node0", "node1", "node1"};
  t.ops = std::move(ops);
  return t;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("desync: a rank that never entered the op the others wait in") {
  std::map<int, RankTrace> traces;
  for (int r : {0, 1, 3})
    traces[r] = rank_trace(r, {op(6, "all_gather float x 1024 out-of-place", "done"),
                               op(7, "all_gather float x 1024 out-of-place", "started", 12.34)});
  traces[2] = rank_trace(2, {op(6, "all_gather float x 1024 out-of-place", "done")});
  traces[2].ops.push_back(TracedOp{"control", "", 9, "store all_gather", 0, "", "started", 5});
  const std::string report = joined(desync_report(traces, 4));
  INFO(report);
  CHECK(has(report,
            "rank 2 (node1) never entered 'world' #7 all_gather float x 1024 (step 3 / fsdp unit 1 forward); "
            "ranks 0-1,3 wait in it since 12.3 s"));
  CHECK(has(report, "rank 2 (node1) waits in 'control' #9 store all_gather since 5.0 s"));
}

TEST_CASE("desync: a rank that left no trace") {
  std::map<int, RankTrace> traces;
  for (int r : {0, 1, 2}) traces[r] = rank_trace(r, {op(7, "all_reduce float x 8 sum in-place", "started", 3)});
  const std::string report = joined(desync_report(traces, 4));
  INFO(report);
  CHECK(has(report,
            "rank 3 (node1) left no trace (stopped, dead or unreachable) and never finished 'world' #7 "
            "all_reduce float x 8 sum"));
  CHECK(has(report, "ranks 0-2 wait in it since 3.0 s"));
}

TEST_CASE("desync: ranks that entered one sequence number with different ops") {
  std::map<int, RankTrace> traces;
  for (int r : {0, 1, 3}) traces[r] = rank_trace(r, {op(7, "all_gather float x 1024 in-place", "started")});
  traces[2] = rank_trace(2, {op(7, "barrier", "started", 1, "step 3 / fsdp unit 1 forward", 0)});
  const std::string report = joined(desync_report(traces, 4));
  INFO(report);
  CHECK(has(report, "ranks disagree on 'world' #7: rank 2 entered barrier (0 B)"));
  CHECK(has(report, "ranks 0-1,3 entered all_gather float x 1024 (4096 B)"));
}

TEST_CASE("desync: the same op from another place in the code (a skipped collective)") {
  std::map<int, RankTrace> traces;
  for (int r : {0, 1, 3})
    traces[r] = rank_trace(r, {op(4, "all_gather float x 1024 out-of-place", "done", 2, "fsdp all_gather unit 1"),
                               op(5, "all_gather float x 1024 out-of-place", "done", 2, "fsdp all_gather unit 2")});
  traces[2] = rank_trace(2, {op(4, "all_gather float x 1024 out-of-place", "done", 2, "fsdp all_gather unit 2")});
  const std::string report = joined(desync_report(traces, 4));
  INFO(report);
  CHECK(has(report,
            "ranks disagree on 'world' #4: rank 2 entered all_gather float x 1024 (4096 B) "
            "(fsdp all_gather unit 2)"));
}

TEST_CASE("desync: everyone in the same op, and a healthy run") {
  std::map<int, RankTrace> waiting, healthy;
  for (int r = 0; r < 4; ++r) {
    waiting[r] = rank_trace(r, {op(7, "all_reduce float x 8 sum in-place", "started", 20)});
    healthy[r] = rank_trace(r, {op(7, "all_reduce float x 8 sum in-place", "done")});
  }
  CHECK(has(joined(desync_report(waiting, 4)), "ranks 0-3 all entered 'world' #7"));
  CHECK(has(joined(desync_report(healthy, 4)), "no rank is behind and no op disagrees"));
}

TEST_CASE("desync: snapshots of a running job taken moments apart name nobody") {
  // SIGUSR1 reached rank 3 a little later: it had just entered #91, the others were still at #90.
  std::map<int, RankTrace> traces;
  for (int r = 0; r < 4; ++r) {
    traces[r] = rank_trace(r, {op(90, "all_gather float x 12320", "done")});
    traces[r].written_unix = 1000.0 + 0.01 * r;
  }
  traces[3].ops.push_back(op(91, "all_gather float x 4112", "started", 0.0));
  CHECK(desync_report(traces, 4) ==
        std::vector<std::string>{"no rank is behind and no op disagrees in the traces of ranks 0-3"});
  // The same picture after 3 s in the op is a hang.
  traces[3].ops.back().age_s = 3.0;
  const auto lines = desync_report(traces, 4);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("rank 0 (node0) never entered 'world' #91", 0) == 0);
}

TEST_CASE("desync: traces round-trip through their JSON, and a foreign file is exit 2") {
  const RankTrace t = rank_trace(1, {op(3, "broadcast float x 2 root 0 in-place", "enqueued")});
  const RankTrace back = trace_from_json(trace_to_json(t), "test");
  CHECK(back.rank == 1);
  CHECK(back.hosts == t.hosts);
  REQUIRE(back.ops.size() == 1);
  CHECK(back.ops[0].state == "enqueued");
  CHECK(back.ops[0].context == t.ops[0].context);
  CHECK_THROWS_AS(trace_from_json(nlohmann::json{{"schema", "other"}}, "x.json"), UsageError);
  CHECK_THROWS_AS(trace_from_json(nlohmann::json{{"schema", kCommTraceSchema}}, "x.json"), UsageError);
  CHECK(parse_rank_ranges("0-2,5") == std::vector<int>{0, 1, 2, 5});
  CHECK(parse_rank_ranges("x").empty());
}
