// Proof of the network a run used, for every executable's record (issue: "is EFA really
// used"): EFA hardware counters before and after the measured part, and which network
// NCCL chose by its own log. A multi-node run whose bytes did not cross EFA, or whose NCCL
// fell back to sockets, is marked in record["network"] and warned about in one loud line.
#pragma once

#include <nlohmann/json.hpp>

#include <vector>

#include "core/comm/world.h"
#include "core/report/efa_counters.h"

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
};

// The verdict on a gathered network object (its "hosts", "nccl_ranks", "nodes"): sets
// "verdict" (single_node | efa | sockets | no_efa_traffic | no_efa) and "warning" ("" or
// one line). Pure, for tests.
void judge_network(nlohmann::json& network);

}  // namespace dtbench
