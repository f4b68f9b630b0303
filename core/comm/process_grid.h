// The tp x pp x dp process grid (docs/ARCHITECTURE.md, "Megatron-style"): tensor-parallel ranks are
// adjacent (tp innermost, so a group shares a node), then data-parallel, then pipeline
// stages: rank = (pp_rank * dp + dp_rank) * tp + tp_rank. Expert parallelism groups ep
// consecutive replicas (dp_rank / ep is the group, dp_rank % ep the rank in it): each holds
// 1/ep of every MoE block's experts, and the tokens of its group's replicas visit them.
#pragma once

#include <memory>

#include "core/comm/communicator.h"

namespace dtbench {

struct ProcessGrid {
  int64_t tp = 1, pp = 1, dp = 1;
  int64_t tp_rank = 0, pp_rank = 0, dp_rank = 0;
  int64_t ep = 1, ep_rank = 0;
  std::unique_ptr<Communicator> tp_comm;         // same pipeline stage and replica
  std::unique_ptr<Communicator> dp_comm;         // same stage and tensor-parallel rank
  std::unique_ptr<Communicator> pp_comm;         // same replica and tensor-parallel rank: the stages
  std::unique_ptr<Communicator> mp_comm;         // one replica's tp x pp ranks, x ep: the gradient norm
  std::unique_ptr<Communicator> ep_comm;         // same stage and tp rank, ep consecutive replicas; null: ep 1
  std::unique_ptr<Communicator> expert_dp_comm;  // the replicas of the same experts; null: ep 1
  std::unique_ptr<Communicator> data_comm;       // all stages and replicas of one tp rank (the loss)
  std::unique_ptr<Communicator> embed_comm;      // first and last stage (tied embeddings); null elsewhere
};

// Collective over `world`; tp * pp must divide its size, ep the data-parallel size (checked
// before, with the flags).
ProcessGrid make_process_grid(Communicator& world, int64_t tp, int64_t pp, int64_t ep = 1);

}  // namespace dtbench
