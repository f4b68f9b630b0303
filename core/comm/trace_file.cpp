#include "core/comm/trace_file.h"

#include <fmt/format.h>
#include <unistd.h>

#include "core/comm/watchdog.h"
#include "core/comm/world.h"
#include "core/report/clock.h"
#include "core/report/files.h"
#include "core/report/log.h"
#include "core/report/system_info.h"
#include "core/report/timeline.h"

namespace dtbench {

namespace {

nlohmann::json clock_json(const ClockOffset& c) {
  return {{"at_s", c.at_s}, {"offset_s", c.offset_s}, {"uncertainty_s", c.uncertainty_s}};
}

}  // namespace

void start_trace(World& world, const std::string& dir) {
  if (dir.empty()) return;
  ControlPlane& plane = world.comm->control();
  // Every rank says whether it can write there; all trace or none, so that no merge misses a rank.
  const std::string why = check_writable_file(fmt::format("{}/trace.rank{}.json", dir, world.launch.rank));
  const auto whys = plane.all_gather(why);
  for (std::size_t r = 0; r < whys.size(); ++r) {
    if (whys[r].empty()) continue;
    if (world.launch.rank == 0)
      log_line(
          fmt::format("--trace {}: rank {} cannot write there ({}); the run goes on without a trace", dir, r, whys[r]));
    return;
  }
  timeline::enable();
  timeline::name_thread("main");
  world.trace_dir = dir;
  world.trace_run_id = plane.all_gather(fmt::format("{}-{}-{}", short_hostname(), ::getpid(), unix_now_s()))[0];
  world.trace_clock_start = measure_clock_offset(plane);
}

std::string finish_trace(World& world) {
  if (world.trace_dir.empty()) return "";
  const ClockOffset end = measure_clock_offset(world.comm->control());
  Watchdog::instance().flush_timeline();
  const int rank = world.launch.rank;
  nlohmann::json events = timeline::events(rank);
  events.push_back({{"name", "process_name"},
                    {"ph", "M"},
                    {"pid", rank},
                    {"tid", 0},
                    {"args", {{"name", fmt::format("rank {} ({})", rank, short_hostname())}}}});
  events.push_back(
      {{"name", "process_sort_index"}, {"ph", "M"}, {"pid", rank}, {"tid", 0}, {"args", {{"sort_index", rank}}}});
  const nlohmann::json trace = {
      {"traceEvents", std::move(events)},
      {"displayTimeUnit", "ms"},
      {"otherData",
       {{"schema", kTraceSchema},
        {"run_id", world.trace_run_id},
        {"rank", rank},
        {"world_size", world.launch.world_size},
        {"host", short_hostname()},
        {"clock", {{"start", clock_json(world.trace_clock_start)}, {"end", clock_json(end)}}}}}};
  std::string path = fmt::format("{}/trace.rank{}.json", world.trace_dir, rank);
  write_file_atomic(path, trace.dump() + "\n");
  return path;
}

}  // namespace dtbench
