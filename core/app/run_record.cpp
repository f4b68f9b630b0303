#include "core/app/run_record.h"

#include <fmt/format.h>

#include <set>

#include "core/comm/trace_file.h"
#include "core/report/result.h"
#include "core/report/system_info.h"

namespace dtbench {

void fill_run_record(nlohmann::json& record, const cxxopts::ParseResult& flags, const CommonArgs& common,
                     World& world) {
  record["config"] = flags_json(flags);
  nlohmann::json tags = nlohmann::json::object();
  for (auto& [k, v] : common.tags) tags[k] = v;
  record["config"]["tags"] = tags;
  const LaunchInfo& l = world.launch;
  // Who is who: every rank's host and local rank, gathered once.
  auto rows = world.comm->control().all_gather(nlohmann::json{
      {"rank", l.rank},
      {"host", short_hostname()},
      {"local_rank", l.local_rank},
      {"device", world.device_index < 0 ? std::string("cpu") : fmt::format("cuda:{}", world.device_index)}}
                                                   .dump());
  nlohmann::json per_rank = nlohmann::json::array();
  std::set<std::string> hosts;
  for (auto& s : rows) {
    auto j = nlohmann::json::parse(s);
    hosts.insert(j["host"].get<std::string>());
    per_rank.push_back(j);
  }
  record["per_rank"] = per_rank;
  record["launch"] = {{"source", l.source},
                      {"job_id", l.job_id},
                      {"world_size", l.world_size},
                      {"nodes", static_cast<int>(hosts.size())},
                      {"local_world_size", l.local_world_size},
                      {"backend", world.backend},
                      {"control_plane", world.control_kind}};
  record["system"] = system_info();
  record["system"]["hosts"] = std::vector<std::string>(hosts.begin(), hosts.end());
}

void gather_per_rank(nlohmann::json& record, World& world, const std::string& key, double value) {
  auto all = world.comm->control().all_gather(fmt::format("{:.17g}", value));
  for (std::size_t r = 0; r < all.size(); ++r) record["per_rank"][r][key] = nlohmann::json::parse(all[r]);
}

void finish_run_record(nlohmann::json& record, const CommonArgs& common, World& world, double duration_s,
                       const std::string& error) {
  // Every benchmark's last collective step: the timeline of a traced run ends here.
  if (!finish_trace(world).empty()) record["trace_dir"] = world.trace_dir;
  const int rank = world.launch.rank;
  record["duration_s"] = duration_s;
  if (!error.empty()) {
    record["status"] = "failed";
    record["error"] = error;
  }
  if (rank == 0 && !common.out.empty()) write_json_atomic(common.out, record);
}

}  // namespace dtbench
