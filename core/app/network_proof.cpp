#include "core/app/network_proof.h"

#include <fmt/format.h>

#include <netdb.h>
#include <sys/socket.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <utility>

#include "core/report/nccl_log.h"
#include "core/report/system_info.h"

namespace dtbench {

namespace {

// The addresses `host` resolves to, numeric.
std::set<std::string> addresses_of(const std::string& host) {
  std::set<std::string> out;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return out;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char buf[NI_MAXHOST] = {0};
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) == 0) out.insert(buf);
  }
  ::freeaddrinfo(found);
  return out;
}

// This rank's transports: its TCP connections by the library that holds them (the store's
// are those to or from the rendezvous address and port; the others are the backend's), and
// Open MPI's shared memory.
nlohmann::json own_transports(const World& world) {
  const std::set<std::string> store_ips =
      world.control_kind == "store" ? addresses_of(world.launch.master_addr) : std::set<std::string>{};
  const int store_port = world.launch.master_port;
  nlohmann::json out = nlohmann::json::array();
  for (const TcpConnection& c : own_tcp_connections()) {
    const bool store = (store_ips.count(c.remote_ip) > 0 && c.remote_port == store_port) ||
                       (store_ips.count(c.local_ip) > 0 && c.local_port == store_port);
    out.push_back({{"library", store ? "store" : world.backend},
                   {"transport", "tcp"},
                   {"interface", c.interface},
                   {"cross_node", !c.remote_is_local}});
  }
  if (world.backend == "mpi" && maps_mpi_shared_memory())
    out.push_back({{"library", "mpi"}, {"transport", "shared_memory"}, {"interface", ""}, {"cross_node", false}});
  return out;
}

// Per (library, transport): the ranks that use it and, for TCP, its connections, those to
// other hosts and their interfaces.
nlohmann::json summarise_transports(const std::vector<nlohmann::json>& per_rank) {
  struct Use {
    std::set<int> ranks;
    std::set<std::string> interfaces;  // of the connections to other hosts
    int64_t connections = 0, cross_node = 0;
  };
  std::map<std::pair<std::string, std::string>, Use> uses;
  for (const nlohmann::json& r : per_rank)
    for (const nlohmann::json& t : r["transports"]) {
      Use& u = uses[{t["library"], t["transport"]}];
      u.ranks.insert(r["rank"].get<int>());
      if (t["transport"] != "tcp") continue;
      const bool cross = t["cross_node"].get<bool>();
      if (cross && !t["interface"].get<std::string>().empty()) u.interfaces.insert(t["interface"].get<std::string>());
      u.connections += 1;
      u.cross_node += cross ? 1 : 0;
    }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [key, u] : uses)
    out.push_back({{"library", key.first},
                   {"transport", key.second},
                   {"ranks", u.ranks.size()},
                   {"interfaces", u.interfaces},
                   {"connections", u.connections},
                   {"cross_node_connections", u.cross_node}});
  return out;
}

}  // namespace

NetworkProof::NetworkProof(const World& world) : reads_counters_(world.launch.local_rank == 0) {
  if (!reads_counters_) return;
  before_ = read_efa_devices();
  links_before_ = read_link_bytes();
}

void NetworkProof::finish(nlohmann::json& record, World& world) {
  nlohmann::json mine = {{"rank", world.launch.rank}, {"host", short_hostname()}};
  if (reads_counters_) {
    const std::vector<EfaDevice> after = read_efa_devices();
    mine["efa"] = efa_counter_delta(before_, after);
    mine["efa"]["device_count"] = after.size();
    nlohmann::json links = nlohmann::json::object();
    for (const auto& [name, d] : link_bytes_delta(links_before_, read_link_bytes()))
      links[name] = {{"tx_bytes", d.tx}, {"rx_bytes", d.rx}};
    mine["efa"]["links"] = links;
  }
  mine["transports"] = own_transports(world);
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
  std::vector<nlohmann::json> per_rank;
  for (const std::string& s : all) per_rank.push_back(nlohmann::json::parse(s));
  net["transports"] = summarise_transports(per_rank);
  for (const nlohmann::json& r : per_rank) {
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

namespace {

// "TCP (mpi on eth0, store on eth0), 25.1 MiB sent by the hosts on eth0": what carried a
// run's bytes between nodes, as measured.
std::string cross_node_paths(const nlohmann::json& net) {
  std::string libs;
  for (const auto& t : net.value("transports", nlohmann::json::array())) {
    if (t.value("cross_node_connections", 0) <= 0) continue;
    std::string ifs;
    for (const auto& i : t["interfaces"]) ifs += (ifs.empty() ? "" : "+") + i.get<std::string>();
    libs += fmt::format("{}{} on {}", libs.empty() ? "" : ", ", t.value("library", "?"), ifs.empty() ? "?" : ifs);
  }
  std::map<std::string, int64_t> sent;
  for (const auto& h : net["hosts"]) {
    const nlohmann::json links = h.value("links", nlohmann::json::object());
    for (const auto& [name, d] : links.items())
      if (name != "lo") sent[name] += d.value("tx_bytes", int64_t{0});
  }
  std::string bytes;
  for (const auto& [name, b] : sent)
    bytes +=
        fmt::format("{}{:.1f} {} on {}", bytes.empty() ? "" : ", ",
                    static_cast<double>(b) / (b < (1 << 20) ? 1 << 10 : 1 << 20), b < (1 << 20) ? "KiB" : "MiB", name);
  return fmt::format("{}{}", libs.empty() ? "no TCP connection we saw" : "TCP (" + libs + ")",
                     bytes.empty() ? "" : ", sent by the hosts: " + bytes);
}

}  // namespace

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
      warning = fmt::format(
          "this {}-node run crossed nodes over {}, not EFA: no host has an EFA device; these are "
          "not EFA figures",
          net.value("nodes", 1), cross_node_paths(net));
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
