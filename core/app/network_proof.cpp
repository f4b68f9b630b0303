#include "core/app/network_proof.h"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>

#include "core/report/nccl_log.h"
#include "core/report/system_info.h"

namespace dtbench {

NetworkProof::NetworkProof(const World& world) : reads_counters_(world.launch.local_rank == 0) {
  if (reads_counters_) before_ = read_efa_devices();
}

void NetworkProof::finish(nlohmann::json& record, World& world) {
  nlohmann::json mine = {{"rank", world.launch.rank}, {"host", short_hostname()}};
  if (reads_counters_) {
    const std::vector<EfaDevice> after = read_efa_devices();
    mine["efa"] = efa_counter_delta(before_, after);
    mine["efa"]["device_count"] = after.size();
  }
  if (!world.nccl_log.empty()) {
    std::ifstream in(world.nccl_log);
    const NcclNetChoice choice = parse_nccl_log(in);
    mine["nccl"] = to_json(choice);
    // NCCL's warnings would have gone to stderr had we not asked for its log file.
    for (const std::string& w : choice.warnings) std::fprintf(stderr, "%s\n", w.c_str());
  }
  const auto all = world.comm->control().all_gather(mine.dump());
  if (world.comm->rank() != 0) return;

  nlohmann::json net = {{"nodes", record["launch"].value("nodes", 1)},
                        {"backend", world.backend},
                        {"hosts", nlohmann::json::array()},
                        {"nccl_ranks", nlohmann::json::array()}};
  if (!world.nccl_log.empty()) net["nccl_log"] = world.nccl_log;
  for (const std::string& s : all) {
    const nlohmann::json r = nlohmann::json::parse(s);
    if (r.contains("efa")) {
      nlohmann::json h = r["efa"];
      h["host"] = r["host"];
      net["hosts"].push_back(h);
    }
    if (r.contains("nccl")) {
      nlohmann::json n = r["nccl"];
      n["rank"] = r["rank"];
      net["nccl_ranks"].push_back(n);
    }
  }
  judge_network(net);
  if (!net["warning"].get<std::string>().empty())
    std::fprintf(stderr, "dtbench: WARNING !!! %s\n", net["warning"].get<std::string>().c_str());
  record["network"] = net;
}

void judge_network(nlohmann::json& net) {
  const bool multi_node = net.value("nodes", 1) > 1;
  int64_t efa_devices = 0;
  std::vector<std::string> silent_hosts;
  for (const auto& h : net["hosts"]) {
    efa_devices += h.value("device_count", 0);
    if (h.value("device_count", 0) > 0 && h.value("tx_bytes", int64_t{0}) <= 0)
      silent_hosts.push_back(h.value("host", "?"));
  }
  std::vector<int> socket_ranks;
  for (const auto& n : net["nccl_ranks"])
    if (n.value("over_sockets", false)) socket_ranks.push_back(n.value("rank", -1));
  net["efa_devices"] = efa_devices;

  std::string verdict = "single_node", warning;
  if (multi_node) {
    if (!socket_ranks.empty()) {
      verdict = "sockets";
      warning = fmt::format(
          "NCCL used plain sockets, not EFA, on {} rank(s) (first: rank {}) of this {}-node run: "
          "the aws-ofi-nccl plugin was not loaded or found no provider; these figures are not EFA "
          "figures. Run env_check, and see {}",
          socket_ranks.size(), socket_ranks.front(), net.value("nodes", 1),
          net.value("nccl_log", std::string("NCCL's log (NCCL_DEBUG=INFO)")));
    } else if (efa_devices == 0) {
      verdict = "no_efa";
    } else if (!silent_hosts.empty()) {
      verdict = "no_efa_traffic";
      std::string hosts;
      for (const auto& h : silent_hosts) hosts += (hosts.empty() ? "" : ", ") + h;
      warning = fmt::format(
          "no bytes went over EFA on {} of this {}-node run (the devices' tx_bytes did not move): "
          "the traffic took another path; check FI_PROVIDER, NCCL_NET and env_check",
          hosts, net.value("nodes", 1));
    } else {
      verdict = "efa";
    }
  }
  net["verdict"] = verdict;
  net["warning"] = warning;
}

}  // namespace dtbench
