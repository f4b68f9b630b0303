// dtbench-trace: reads what the ranks of a run left in its run folder.
//   dtbench-trace desync RUN_DIR   the desync report from the comm traces (comm_trace.rank*.json)
//                                  that the ranks wrote on a hang, a failure or SIGUSR1: the
//                                  same report rank 0 printed in the job, for a job whose rank 0
//                                  could not print it (stopped, killed) or for a later look.
//   dtbench-trace merge DIR [--out FILE]
//                                  the ranks' timelines of a run with --trace DIR
//                                  (trace.rank*.json) as one Chrome Trace Event Format file,
//                                  a process per rank, every rank's clock moved onto rank 0's
//                                  (the offsets measured at the start and the end of the run,
//                                  interpolated between); prints the offsets and the residual.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <string>

#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/comm/desync.h"
#include "core/comm/trace_file.h"
#include "core/report/errors.h"
#include "core/report/files.h"

using namespace dtbench;

namespace {

std::map<int, RankTrace> read_traces(const std::string& dir) {
  namespace fs = std::filesystem;
  DT_USAGE(fs::is_directory(dir), "{}: not a folder; give the run folder (--run-dir of the run)", dir);
  const std::regex name(R"(comm_trace\.rank(\d+)\.json)");
  std::map<int, RankTrace> traces;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::smatch m;
    const std::string file = entry.path().filename().string();
    if (!std::regex_match(file, m, name)) continue;
    std::ifstream in(entry.path());
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw UsageError(fmt::format("{}: not JSON ({})", entry.path().string(), e.what()));
    }
    RankTrace t = trace_from_json(j, entry.path().string());
    DT_USAGE(t.rank == std::stoi(m[1].str()), "{}: holds rank {}'s trace; was it renamed?", entry.path().string(),
             t.rank);
    traces.emplace(t.rank, std::move(t));
  }
  DT_USAGE(!traces.empty(), "{}: no comm_trace.rank*.json; ranks write them on a hang, a failure or SIGUSR1", dir);
  const RankTrace& first = traces.begin()->second;
  for (const auto& [r, t] : traces)
    DT_USAGE(t.world_size == first.world_size && t.hosts == first.hosts,
             "{}: the traces of ranks {} and {} are of different runs (world of {} and {}); keep one run's traces "
             "per folder",
             dir, first.rank, r, first.world_size, t.world_size);
  return traces;
}

// One rank's --trace file.
struct RankTimeline {
  std::unique_ptr<nlohmann::json> doc;
  int rank = 0;
  double at0 = 0, off0 = 0, unc0 = 0, at1 = 0, off1 = 0, unc1 = 0;  // the clock at the start and the end
  // Rank 0's clock at this rank's time t: the offset interpolated between the two measurements.
  double offset_at(double t) const {
    if (at1 <= at0) return off0;
    const double f = std::clamp((t - at0) / (at1 - at0), 0.0, 1.0);
    return off0 + f * (off1 - off0);
  }
};

std::map<int, RankTimeline> read_timelines(const std::string& dir) {
  namespace fs = std::filesystem;
  DT_USAGE(fs::is_directory(dir), "{}: not a folder; give the --trace folder of the run", dir);
  const std::regex name(R"(trace\.rank(\d+)\.json)");
  std::map<int, RankTimeline> out;
  std::string run_id;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::smatch m;
    const std::string file = entry.path().filename().string();
    if (!std::regex_match(file, m, name)) continue;
    const std::string where = entry.path().string();
    RankTimeline t;
    try {
      std::ifstream in(entry.path());
      t.doc = std::make_unique<nlohmann::json>(nlohmann::json::parse(in));
      const auto& other = t.doc->at("otherData");
      DT_USAGE(other.at("schema") == kTraceSchema, "{}: not a {} file", where, kTraceSchema);
      t.rank = other.at("rank").get<int>();
      const auto& c = other.at("clock");
      t.at0 = c.at("start").at("at_s").get<double>();
      t.off0 = c.at("start").at("offset_s").get<double>();
      t.unc0 = c.at("start").at("uncertainty_s").get<double>();
      t.at1 = c.at("end").at("at_s").get<double>();
      t.off1 = c.at("end").at("offset_s").get<double>();
      t.unc1 = c.at("end").at("uncertainty_s").get<double>();
      const std::string id = other.at("run_id").get<std::string>();
      if (run_id.empty()) run_id = id;
      DT_USAGE(id == run_id, "{}: a trace of another run ({}, not {}); keep one run's traces per folder", where, id,
               run_id);
      DT_USAGE(t.rank == std::stoi(m[1].str()), "{}: holds rank {}'s timeline; was it renamed?", where, t.rank);
    } catch (const nlohmann::json::exception& e) {
      throw UsageError(fmt::format("{}: not a dtbench trace ({})", where, e.what()));
    }
    out.emplace(t.rank, std::move(t));
  }
  DT_USAGE(!out.empty(), "{}: no trace.rank*.json; run the job with --trace {}", dir, dir);
  const int world = out.begin()->second.doc->at("otherData").at("world_size").get<int>();
  for (int r = 0; r < world; ++r)
    DT_USAGE(out.count(r), "{}: rank {}'s trace.rank{}.json is missing ({} ranks in the run)", dir, r, r, world);
  return out;
}

int merge(const std::string& dir, std::string out_path) {
  const auto ranks = read_timelines(dir);
  if (out_path.empty()) out_path = dir + "/trace.merged.json";
  nlohmann::json events = nlohmann::json::array();
  nlohmann::json clocks = nlohmann::json::array();
  double residual = 0;
  for (const auto& [rank, t] : ranks) {
    for (auto e : t.doc->at("traceEvents")) {
      if (e.contains("ts")) {
        // Both ends of a slice move, so that slices keep their nesting however the offset drifts.
        const double ts_s = e["ts"].get<double>() * 1e-6;
        const double begin = ts_s + t.offset_at(ts_s);
        e["ts"] = begin * 1e6;
        if (e.contains("dur")) {
          const double end_s = ts_s + e["dur"].get<double>() * 1e-6;
          e["dur"] = (end_s + t.offset_at(end_s) - begin) * 1e6;
        }
      }
      // Flow ids are unique within a rank; made unique within the merged file.
      if (e.contains("id")) e["id"] = (static_cast<uint64_t>(rank) << 40) + e["id"].get<uint64_t>();
      events.push_back(std::move(e));
    }
    const auto& other = t.doc->at("otherData");
    const double unc = std::max(t.unc0, t.unc1);
    residual = std::max(residual, unc);
    clocks.push_back({{"rank", rank},
                      {"host", other.at("host")},
                      {"offset_start_s", t.off0},
                      {"offset_end_s", t.off1},
                      {"uncertainty_s", unc}});
    std::printf("rank %d (%s): clock offset to rank 0 %+.6f s at the start, %+.6f s at the end (+-%.0f us)\n", rank,
                other.at("host").get<std::string>().c_str(), t.off0, t.off1, unc * 1e6);
  }
  const nlohmann::json merged = {{"traceEvents", std::move(events)},
                                 {"displayTimeUnit", "ms"},
                                 {"otherData",
                                  {{"schema", "dtbench.trace_merged/v1"},
                                   {"run_id", ranks.begin()->second.doc->at("otherData").at("run_id")},
                                   {"clocks", clocks},
                                   {"residual_s", residual}}}};
  write_file_atomic(out_path, merged.dump() + "\n");
  std::printf(
      "merged %zu ranks into %s; clocks aligned to rank 0 within +-%.0f us (the residual: the widest bound "
      "of a measured offset)\n",
      ranks.size(), out_path.c_str(), residual * 1e6);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("dtbench-trace", [&] {
    cxxopts::Options o("dtbench-trace",
                       "What the ranks of a run left behind.\n  dtbench-trace desync RUN_DIR\n  dtbench-trace merge "
                       "TRACE_DIR [--out FILE]");
    o.add_options()("h,help", "print this help and exit")(
        "out", "merge: the merged trace (default: TRACE_DIR/trace.merged.json)", cxxopts::value<std::string>(), "FILE")(
        "args", "desync RUN_DIR | merge TRACE_DIR", cxxopts::value<std::vector<std::string>>(), "COMMAND DIR");
    o.parse_positional({"args"});
    o.positional_help("desync RUN_DIR | merge TRACE_DIR");
    auto r = parse_flags(o, argc, argv);
    const auto args = r.count("args") ? r["args"].as<std::vector<std::string>>() : std::vector<std::string>();
    DT_USAGE(args.size() == 2 && (args[0] == "desync" || args[0] == "merge"),
             "want: dtbench-trace desync RUN_DIR or dtbench-trace merge TRACE_DIR (see --help)");
    if (args[0] == "merge") return merge(args[1], r.count("out") ? r["out"].as<std::string>() : "");
    const auto traces = read_traces(args[1]);
    const int world = traces.begin()->second.world_size;
    for (const auto& line : desync_report(traces, world)) std::printf("desync report: %s\n", line.c_str());
    return 0;
  });
}
