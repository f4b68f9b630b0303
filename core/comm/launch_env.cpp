#include "core/comm/launch_env.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstdlib>
#include <limits>
#include <vector>

#include "core/report/errors.h"
#include "core/report/numbers.h"

extern char** environ;

namespace dtbench {

namespace {

std::optional<std::string> get(const EnvMap& env, const std::string& key) {
  auto it = env.find(key);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// Ranks, sizes and indices: 0 to 2^30; counts of processes or nodes start at 1; ports are
// 1 to 65535 (a larger one would be taken modulo 2^16 by the socket layer).
constexpr int64_t kMaxCount = int64_t{1} << 30;

int parse_int(const std::string& source, const std::string& key, const std::string& value, int64_t lo = 0,
              int64_t hi = kMaxCount) {
  return static_cast<int>(parse_integer(fmt::format("{}: {}", source, key), value, lo, hi));
}

// A rank or index by default (0 to 2^30).
std::optional<int> get_int(const EnvMap& env, const std::string& source, const std::string& key, int64_t lo = 0,
                           int64_t hi = kMaxCount) {
  auto v = get(env, key);
  if (!v) return std::nullopt;
  return parse_int(source, key, *v, lo, hi);
}

// A count of processes or nodes (1 to 2^30).
std::optional<int> get_count(const EnvMap& env, const std::string& source, const std::string& key) {
  return get_int(env, source, key, 1);
}

std::optional<int> get_port(const EnvMap& env, const std::string& source, const std::string& key) {
  return get_int(env, source, key, 1, 65535);
}

// A candidate from one source: complete or absent; partial sets are errors.
struct Candidate {
  std::string source;
  int rank = -1, world_size = -1, local_rank = -1, local_world_size = -1;
  std::optional<std::string> master_addr;
  std::optional<int> master_port;
  std::string job_id;
};

void check_ranges(const Candidate& c) {
  if (c.world_size < 1 || c.world_size > kMaxCount)
    throw UsageError(fmt::format("{}: world size {} must be from 1 to 2^30", c.source, c.world_size));
  if (c.rank < 0 || c.local_rank < 0)
    throw UsageError(fmt::format("{}: rank {} (local rank {}) cannot be negative", c.source, c.rank, c.local_rank));
  if (c.master_port && (*c.master_port < 1 || *c.master_port > 65535))
    throw UsageError(fmt::format("{}: master port {} is not a port; want 1 to 65535", c.source, *c.master_port));
  if (c.rank >= c.world_size)
    throw UsageError(fmt::format("{}: rank {} is not below world size {}", c.source, c.rank, c.world_size));
  if (c.local_world_size < 1 || c.local_rank >= c.local_world_size)
    throw UsageError(
        fmt::format("{}: local rank {} is not below local world size {}", c.source, c.local_rank, c.local_world_size));
  if (c.local_world_size > c.world_size)
    throw UsageError(
        fmt::format("{}: local world size {} exceeds world size {}", c.source, c.local_world_size, c.world_size));
}

std::optional<Candidate> from_flags(const LaunchFlags& f) {
  if (!f.rank && !f.world_size && !f.local_rank && !f.local_world_size) return std::nullopt;
  if (!f.rank || !f.world_size)
    throw UsageError("--rank and --world-size go together; give both (or neither, to read the launcher's environment)");
  Candidate c{"flags"};
  c.rank = *f.rank;
  c.world_size = *f.world_size;
  // Without --local-rank the flags describe a single node.
  c.local_rank = f.local_rank.value_or(*f.rank);
  c.local_world_size = f.local_world_size.value_or(*f.world_size);
  c.master_addr = f.master_addr;
  c.master_port = f.master_port;
  return c;
}

bool per_node_launcher(const std::string& source) { return source == "torchrun" || source == "dtbench-launch"; }

std::optional<Candidate> from_torchrun(const EnvMap& env) {
  // torchrun and our launcher always set LOCAL_RANK; a PyTorchJob pod's RANK/WORLD_SIZE
  // (pod index, pod count) come without it and are left to the Kubeflow source.
  auto rank = get_int(env, "torchrun", "RANK");
  auto world = get_count(env, "torchrun", "WORLD_SIZE");
  auto local = get_int(env, "torchrun", "LOCAL_RANK");
  if (!rank || !world || !local) {
    // A pod of a PyTorchJob or an Indexed Job has RANK and WORLD_SIZE of its own (their
    // node-level sources read them); anywhere else a part of the set is a broken launch,
    // which would otherwise train as a single process.
    if ((rank || world || local) && !get(env, "PET_NNODES") && !get(env, "JOB_COMPLETION_INDEX")) {
      std::string missing;
      for (const char* k : {"RANK", "WORLD_SIZE", "LOCAL_RANK"})
        if (!get(env, k)) missing += std::string(missing.empty() ? "" : ", ") + k;
      throw UsageError(
          fmt::format("torchrun: {} set without {}; set all of RANK, WORLD_SIZE, LOCAL_RANK, "
                      "MASTER_ADDR and MASTER_PORT (torchrun and dtbench-launch do), or unset them",
                      rank ? "RANK" : (world ? "WORLD_SIZE" : "LOCAL_RANK"), missing));
    }
    return std::nullopt;
  }
  // The same variables; the source names which of the two set them.
  Candidate c{get(env, "DTBENCH_LAUNCHER") ? "dtbench-launch" : "torchrun"};
  c.rank = *rank;
  c.world_size = *world;
  c.local_rank = *local;
  c.local_world_size = get_count(env, "torchrun", "LOCAL_WORLD_SIZE").value_or(*world);
  c.master_addr = get(env, "MASTER_ADDR");
  c.master_port = get_port(env, "torchrun", "MASTER_PORT");
  if (!c.master_addr || !c.master_port)
    throw UsageError(
        fmt::format("{}: RANK {} of WORLD_SIZE {} but no {}; set MASTER_ADDR and MASTER_PORT to rank 0's "
                    "store (torchrun and dtbench-launch do)",
                    c.source, c.rank, c.world_size, c.master_addr ? "MASTER_PORT" : "MASTER_ADDR"));
  c.job_id = get(env, "TORCHELASTIC_RUN_ID").value_or("");
  return c;
}

std::optional<Candidate> from_openmpi(const EnvMap& env) {
  auto rank = get_int(env, "openmpi", "OMPI_COMM_WORLD_RANK");
  auto size = get_count(env, "openmpi", "OMPI_COMM_WORLD_SIZE");
  if (!rank || !size) return std::nullopt;
  Candidate c{"openmpi"};
  c.rank = *rank;
  c.world_size = *size;
  c.local_rank = get_int(env, "openmpi", "OMPI_COMM_WORLD_LOCAL_RANK").value_or(0);
  c.local_world_size = get_count(env, "openmpi", "OMPI_COMM_WORLD_LOCAL_SIZE").value_or(1);
  c.master_addr = get(env, "MASTER_ADDR");
  c.master_port = get_port(env, "openmpi", "MASTER_PORT");
  c.job_id = get(env, "SLURM_JOB_ID").value_or("");
  return c;
}

std::optional<Candidate> from_slurm(const EnvMap& env) {
  // The batch script itself has SLURM_PROCID=0 but no step: it is not rank 0 of anything.
  if (!get(env, "SLURM_STEP_ID")) return std::nullopt;
  auto rank = get_int(env, "slurm", "SLURM_PROCID");
  auto size = get_count(env, "slurm", "SLURM_STEP_NUM_TASKS");
  if (!size) size = get_count(env, "slurm", "SLURM_NTASKS");
  if (!rank || !size) return std::nullopt;
  Candidate c{"slurm"};
  c.rank = *rank;
  c.world_size = *size;
  c.local_rank = get_int(env, "slurm", "SLURM_LOCALID").value_or(0);
  const int node_id = get_int(env, "slurm", "SLURM_NODEID").value_or(0);
  if (auto tpn = get(env, "SLURM_STEP_TASKS_PER_NODE"))
    c.local_world_size = slurm_tasks_on_node(*tpn, node_id);
  else
    c.local_world_size = 1;
  c.master_addr = get(env, "MASTER_ADDR");
  if (!c.master_addr) {
    if (auto nodes = get(env, "SLURM_STEP_NODELIST")) c.master_addr = slurm_first_host(*nodes);
  }
  c.job_id = get(env, "SLURM_JOB_ID").value_or("");
  c.master_port = get_port(env, "slurm", "MASTER_PORT");
  if (!c.master_port && !c.job_id.empty())
    c.master_port = static_cast<int>(
        20000 + parse_integer("slurm: SLURM_JOB_ID", c.job_id, 0, std::numeric_limits<int64_t>::max()) % 20000);
  return c;
}

std::optional<Candidate> from_pmi(const EnvMap& env) {
  auto size = get_count(env, "pmi", "PMI_SIZE");
  if (!size) size = get_count(env, "pmix", "PMIX_SIZE");
  std::optional<int> rank;
  std::string source = "pmix";
  if ((rank = get_int(env, "pmix", "PMIX_RANK"))) {
  } else if ((rank = get_int(env, "pmi", "PMI_RANK"))) {
    source = "pmi";
  }
  if (!rank || !size) return std::nullopt;
  Candidate c{source};
  c.rank = *rank;
  c.world_size = *size;
  c.local_rank = get_int(env, source, "PMI_LOCAL_RANK").value_or(0);
  c.local_world_size = get_count(env, source, "PMI_LOCAL_SIZE").value_or(1);
  c.master_addr = get(env, "MASTER_ADDR");
  c.master_port = get_port(env, source, "MASTER_PORT");
  return c;
}

// Node-level: a node rank and count; processes per node from the source or the launcher.
struct NodeCandidate {
  std::string source;
  int node_rank = 0, nodes = 1, nproc_per_node = 1;
  std::optional<std::string> master_addr;
  std::optional<int> master_port;
  std::string job_id;
};

int nproc_value(const EnvMap& env, const std::string& source, const std::string& key, const LaunchContext& ctx) {
  auto v = get(env, key);
  if (!v) return std::max(1, ctx.visible_gpus);
  if (*v == "auto" || *v == "gpu") return std::max(1, ctx.visible_gpus);
  return parse_int(source, key, *v, 1, 1024);
}

std::optional<NodeCandidate> from_kubeflow(const EnvMap& env, const LaunchContext& ctx) {
  auto nnodes = get(env, "PET_NNODES");
  if (!nnodes) return std::nullopt;
  if (nnodes->find(':') != std::string::npos)
    throw UsageError(
        fmt::format("kubeflow: PET_NNODES='{}' is an elastic range; dtbench needs a fixed "
                    "node count: set elasticPolicy min = max replicas",
                    *nnodes));
  NodeCandidate c{"kubeflow"};
  c.nodes = parse_int("kubeflow", "PET_NNODES", *nnodes, 1);
  // PET_NODE_RANK where the operator sets it, else the pod index in RANK.
  auto nr = get_int(env, "kubeflow", "PET_NODE_RANK");
  if (!nr) nr = get_int(env, "kubeflow", "RANK");
  if (!nr) throw UsageError("kubeflow: PET_NNODES is set but neither PET_NODE_RANK nor RANK; fix the PyTorchJob");
  c.node_rank = *nr;
  c.nproc_per_node = nproc_value(env, "kubeflow", "PET_NPROC_PER_NODE", ctx);
  c.master_addr = get(env, "PET_MASTER_ADDR");
  if (!c.master_addr) c.master_addr = get(env, "MASTER_ADDR");
  c.master_port = get_port(env, "kubeflow", "PET_MASTER_PORT");
  if (!c.master_port) c.master_port = get_port(env, "kubeflow", "MASTER_PORT");
  return c;
}

std::optional<NodeCandidate> from_indexed_job(const EnvMap& env, const LaunchContext& ctx) {
  auto index = get_int(env, "indexed-job", "JOB_COMPLETION_INDEX");
  if (!index) return std::nullopt;
  auto nnodes = get_count(env, "indexed-job", "NNODES");
  if (!nnodes)
    throw UsageError(
        "indexed-job: JOB_COMPLETION_INDEX is set but NNODES is not; set NNODES (= completions) in the manifest");
  NodeCandidate c{"indexed-job"};
  c.node_rank = *index;
  c.nodes = *nnodes;
  c.nproc_per_node = nproc_value(env, "indexed-job", "NPROC_PER_NODE", ctx);
  c.master_addr = get(env, "MASTER_ADDR");
  if (!c.master_addr)
    throw UsageError(
        "indexed-job: MASTER_ADDR is not set; point it at index 0's pod (headless service name) in the manifest");
  c.master_port = get_port(env, "indexed-job", "MASTER_PORT");
  return c;
}

std::optional<NodeCandidate> from_aws_batch(const EnvMap& env, const LaunchContext& ctx) {
  auto index = get_int(env, "aws-batch", "AWS_BATCH_JOB_NODE_INDEX");
  auto num = get_count(env, "aws-batch", "AWS_BATCH_JOB_NUM_NODES");
  if (!index || !num) return std::nullopt;
  auto main = get_int(env, "aws-batch", "AWS_BATCH_JOB_MAIN_NODE_INDEX").value_or(0);
  NodeCandidate c{"aws-batch"};
  c.nodes = *num;
  c.node_rank = ((*index - main) % *num + *num) % *num;
  c.nproc_per_node = nproc_value(env, "aws-batch", "NPROC_PER_NODE", ctx);
  // Absent on the main node itself: its own address (MASTER_ADDR, when set, wins).
  c.master_addr = get(env, "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS");
  if (!c.master_addr) c.master_addr = get(env, "MASTER_ADDR");
  if (!c.master_addr) {
    if (ctx.own_address.empty())
      throw UsageError(
          "aws-batch: this is the main node, and it has no address but loopback; set MASTER_ADDR to its private IPv4 "
          "address");
    c.master_addr = ctx.own_address;
  }
  c.master_port = get_port(env, "aws-batch", "MASTER_PORT");
  c.job_id = get(env, "AWS_BATCH_JOB_ID").value_or("");
  return c;
}

[[noreturn]] void contradiction(const std::string& a, const std::string& what_a, const std::string& b,
                                const std::string& what_b) {
  throw UsageError(
      fmt::format("launch sources disagree: {} says {} but {} says {}; unset the stale "
                  "variables or fix the launcher",
                  a, what_a, b, what_b));
}

}  // namespace

EnvMap process_env() {
  EnvMap env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

std::string slurm_first_host(const std::string& nodelist) {
  // Up to the first comma outside brackets; a bracket range keeps its first member.
  std::string first;
  int depth = 0;
  for (char ch : nodelist) {
    if (ch == '[') depth++;
    if (ch == ']') depth--;
    if (ch == ',' && depth == 0) break;
    first += ch;
  }
  auto open = first.find('[');
  if (open == std::string::npos) return first;
  std::string prefix = first.substr(0, open);
  std::string inside = first.substr(open + 1, first.find(']') - open - 1);
  std::string suffix = first.substr(first.find(']') + 1);
  std::string head = inside.substr(0, inside.find_first_of(",-"));
  return prefix + head + suffix;
}

int slurm_tasks_on_node(const std::string& tpn, int node_id) {
  // "8(x2),4": two nodes with 8 tasks, then one with 4.
  int64_t node = 0;
  std::size_t pos = 0;
  while (pos < tpn.size()) {
    std::size_t end = tpn.find(',', pos);
    if (end == std::string::npos) end = tpn.size();
    std::string item = tpn.substr(pos, end - pos);
    auto paren = item.find("(x");
    const bool closed = paren == std::string::npos || (item.size() > paren + 2 && item.back() == ')');
    int64_t tasks = 0, repeat = 1;
    if (!closed || !read_integer(item.substr(0, paren), 1, kMaxCount, tasks).empty() ||
        (paren != std::string::npos &&
         !read_integer(item.substr(paren + 2, item.size() - paren - 3), 1, kMaxCount, repeat).empty()))
      throw UsageError(
          fmt::format("slurm: SLURM_STEP_TASKS_PER_NODE='{}' is not Slurm's format, e.g. 8(x2),4", shown_text(tpn)));
    if (node_id < node + repeat) return static_cast<int>(tasks);
    node += repeat;
    pos = end + 1;
  }
  throw UsageError(fmt::format("slurm: node {} is not in SLURM_STEP_TASKS_PER_NODE='{}'", node_id, tpn));
}

LaunchInfo discover_launch(const EnvMap& env, const LaunchFlags& flags, const LaunchContext& ctx) {
  std::vector<Candidate> procs;
  for (auto c : {from_flags(flags), from_torchrun(env), from_openmpi(env), from_slurm(env), from_pmi(env)})
    if (c) procs.push_back(*c);
  std::vector<NodeCandidate> nodes;
  for (auto c : {from_kubeflow(env, ctx), from_indexed_job(env, ctx), from_aws_batch(env, ctx)})
    if (c) nodes.push_back(*c);

  LaunchInfo info;
  if (!procs.empty()) {
    const Candidate& w = procs.front();
    check_ranges(w);
    // Process level: a lower source that counts the same processes must agree on the rank.
    // One that counts other processes (the Slurm task or the mpirun daemon that started a
    // launcher on each node) describes the layer outside, not a contradiction.
    for (std::size_t i = 1; i < procs.size(); ++i) {
      const Candidate& o = procs[i];
      if (w.source == "flags" && per_node_launcher(o.source) && o.world_size != w.world_size)
        contradiction(w.source, fmt::format("world size {}", w.world_size), o.source,
                      fmt::format("world size {}", o.world_size));
      if (o.world_size == w.world_size && o.rank != w.rank)
        contradiction(w.source, fmt::format("rank {} of {}", w.rank, w.world_size), o.source,
                      fmt::format("rank {} of {}", o.rank, o.world_size));
    }
    info.source = w.source;
    info.rank = w.rank;
    info.world_size = w.world_size;
    info.local_rank = w.local_rank;
    info.local_world_size = w.local_world_size;
    info.nodes = std::max(1, w.world_size / w.local_world_size);
    info.node_rank = w.rank / w.local_world_size;
    if (w.master_addr) info.master_addr = *w.master_addr;
    if (w.master_port) info.master_port = *w.master_port;
    info.job_id = w.job_id;
    info.agent_store = w.source == "torchrun" && get(env, "TORCHELASTIC_USE_AGENT_STORE") == "True";
    // Node level, against the node rank and count derived from the winner. Only where the
    // winner's ranks are laid out node by node (torchrun, our launcher, flags).
    if (per_node_launcher(w.source) || w.source == "flags") {
      for (const auto& n : nodes) {
        if (n.nodes != info.nodes || n.node_rank != info.node_rank)
          contradiction(w.source, fmt::format("node {} of {}", info.node_rank, info.nodes), n.source,
                        fmt::format("node {} of {}", n.node_rank, n.nodes));
      }
      if (get(env, "SLURM_STEP_ID") && get(env, "SLURM_NODEID")) {
        int sn = parse_int("slurm", "SLURM_NODEID", *get(env, "SLURM_NODEID"));
        auto snn = get_int(env, "slurm", "SLURM_STEP_NUM_NODES");
        if (sn != info.node_rank || (snn && *snn != info.nodes))
          contradiction(w.source, fmt::format("node {} of {}", info.node_rank, info.nodes), "slurm",
                        fmt::format("node {} of {}", sn, snn ? std::to_string(*snn) : std::string("?")));
      }
    }
    if (info.job_id.empty()) {
      if (auto j = get(env, "SLURM_JOB_ID")) info.job_id = *j;
    }
    return info;
  }
  if (!nodes.empty()) {
    const NodeCandidate& w = nodes.front();
    if (w.nodes < 1 || w.node_rank >= w.nodes)
      throw UsageError(fmt::format("{}: node rank {} is not below node count {}", w.source, w.node_rank, w.nodes));
    for (std::size_t i = 1; i < nodes.size(); ++i) {
      const auto& o = nodes[i];
      if (o.nodes != w.nodes || o.node_rank != w.node_rank)
        contradiction(w.source, fmt::format("node {} of {}", w.node_rank, w.nodes), o.source,
                      fmt::format("node {} of {}", o.node_rank, o.nodes));
    }
    info.source = w.source;
    info.node_level = true;
    info.nodes = w.nodes;
    info.node_rank = w.node_rank;
    info.local_world_size = w.nproc_per_node;
    info.world_size = w.nodes * w.nproc_per_node;
    info.rank = w.node_rank * w.nproc_per_node;  // local rank 0 of this node
    info.local_rank = 0;
    if (w.master_addr) info.master_addr = *w.master_addr;
    if (w.master_port) info.master_port = *w.master_port;
    info.job_id = w.job_id;
    return info;
  }
  return info;  // one process, nothing to discover
}

std::string own_ipv4_address() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* a = list; a != nullptr && found.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET || (a->ifa_flags & IFF_UP) == 0 ||
        (a->ifa_flags & IFF_LOOPBACK) != 0)
      continue;
    const std::string name = a->ifa_name;
    if (name.rfind("docker", 0) == 0 || name.rfind("veth", 0) == 0 || name.rfind("br-", 0) == 0) continue;
    char buf[INET_ADDRSTRLEN] = {0};
    if (::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf))
      found = buf;
  }
  ::freeifaddrs(list);
  return found;
}

bool is_loopback_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return false;
  bool loopback = found != nullptr;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      loopback = loopback && (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (a->ai_family == AF_INET6) {
      loopback = loopback && IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr);
    } else {
      loopback = false;
    }
  }
  ::freeaddrinfo(found);
  return loopback;
}

}  // namespace dtbench
