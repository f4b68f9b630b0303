// Launch-environment discovery (docs/ARCHITECTURE.md, "Launch environment").
//
// A pure function of the environment and the launch flags, so every launcher's variable
// set can be tested without that launcher. Process-level sources (flags, torchrun and our
// launcher, OpenMPI, Slurm steps, PMIx/PMI) give a process its rank directly; node-level
// sources (Kubeflow PET_*, Kubernetes Indexed Job, AWS Batch multi-node) give a node rank,
// from which the local launcher derives process ranks.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace dtbench {

using EnvMap = std::map<std::string, std::string>;

struct LaunchFlags {
  std::optional<int> rank, world_size, local_rank, local_world_size;
  std::optional<std::string> master_addr;
  std::optional<int> master_port;
};

struct LaunchInfo {
  std::string source =
      "single";  // flags|torchrun|dtbench-launch|openmpi|slurm|pmix|pmi|kubeflow|indexed-job|aws-batch|single
  bool node_level = false;  // ranks of this node's processes are still to be assigned
  int rank = 0, world_size = 1, local_rank = 0, local_world_size = 1;
  int node_rank = 0, nodes = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool agent_store = false;  // torchrun's agent already serves the store at MASTER_PORT
  std::string job_id;        // Slurm job, Kubernetes job, AWS Batch job; "" when none
};

// Facts outside the environment that some sources need.
struct LaunchContext {
  int visible_gpus = 0;          // for PET_NPROC_PER_NODE=auto (0 counts as 1: CPU)
  std::string own_address = "";  // AWS Batch main node: its own address is the master (own_ipv4_address())
};

// The first complete source wins. Throws UsageError (exit 2) for a partial or
// contradictory set, naming the sources involved and what to fix.
LaunchInfo discover_launch(const EnvMap& env, const LaunchFlags& flags, const LaunchContext& ctx = {});

// The process environment as a map.
EnvMap process_env();

// This host's first IPv4 address that is up and not loopback (container bridges and veths
// skipped): an AWS Batch main node's own address. "" when there is none.
std::string own_ipv4_address();

// Whether every address `host` resolves to is a loopback address (127/8, ::1): a rendezvous
// there is reachable from this host only.
bool is_loopback_host(const std::string& host);

// Expands the first host of a Slurm hostlist: "gpu-[003-005,9],cpu1" -> "gpu-003".
std::string slurm_first_host(const std::string& nodelist);

// Tasks on node `node_id` from a Slurm tasks-per-node string such as "8(x2),4".
int slurm_tasks_on_node(const std::string& tasks_per_node, int node_id);

}  // namespace dtbench
