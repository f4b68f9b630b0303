// dtbench-trace: reads what the ranks of a run left in its run folder.
//   dtbench-trace desync RUN_DIR   the desync report from the comm traces (comm_trace.rank*.json)
//                                  that the ranks wrote on a hang, a failure or SIGUSR1: the
//                                  same report rank 0 printed in the job, for a job whose rank 0
//                                  could not print it (stopped, killed) or for a later look.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/comm/desync.h"
#include "core/report/errors.h"

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

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("dtbench-trace", [&] {
    cxxopts::Options o("dtbench-trace", "What the ranks of a run left in its run folder.\n  dtbench-trace desync RUN_DIR");
    o.add_options()("h,help", "print this help and exit")(
        "args", "desync RUN_DIR", cxxopts::value<std::vector<std::string>>(), "COMMAND DIR");
    o.parse_positional({"args"});
    o.positional_help("desync RUN_DIR");
    auto r = parse_flags(o, argc, argv);
    const auto args = r.count("args") ? r["args"].as<std::vector<std::string>>() : std::vector<std::string>();
    DT_USAGE(args.size() == 2 && args[0] == "desync", "want: dtbench-trace desync RUN_DIR (see --help)");
    const auto traces = read_traces(args[1]);
    const int world = traces.begin()->second.world_size;
    for (const auto& line : desync_report(traces, world)) std::printf("desync report: %s\n", line.c_str());
    return 0;
  });
}
