// Proof of the network a run used, for every executable's record (issue: "is EFA really
// used"), measured rather than inferred: EFA hardware counters and every interface's byte
// counters before and after the measured part (per host), the TCP connections and MPI
// shared memory each rank holds (which library's, on which interface, to which host), and
// which network NCCL chose by its own log. A multi-node run whose bytes did not cross EFA,
// whose NCCL fell back to sockets or that has no EFA at all is marked in record["network"]
// and warned about in one loud line, once per run (rank 0).
#pragma once

#include <nlohmann/json.hpp>

#include <vector>

#include "core/comm/world.h"
#include "core/report/efa_counters.h"
#include "core/report/net_links.h"

namespace dtbench {

class NetworkProof {
 public:
  // Reads the counters before the measured part (local rank 0 of each node).
  explicit NetworkProof(const World& world);

  // Reads them again and NCCL's log, gathers every rank's view (collective) and sets
  // record["network"]; rank 0 prints the warning, if any, to stderr.
  void finish(nlohmann::json& record, World& world);

 private:
  bool reads_counters_;
  std::vector<EfaDevice> before_;
  std::map<std::string, LinkBytes> links_before_;
};

// The verdict on a gathered network object (its "hosts", "nccl_ranks", "transports", "nodes"): sets
// "verdict" (single_node | efa | sockets | no_efa_traffic | no_efa) and "warning" ("" or
// one line). Pure, for tests.
void judge_network(nlohmann::json& network);

}  // namespace dtbench
