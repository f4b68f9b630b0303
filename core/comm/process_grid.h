// The tp x pp x dp process grid (docs/ARCHITECTURE.md, "Megatron-style"): tensor-parallel ranks are
// adjacent (tp innermost, so a group shares a node), then data-parallel, then pipeline
// stages: rank = (pp_rank * dp + dp_rank) * tp + tp_rank.
#pragma once

#include <memory>

#include "core/comm/communicator.h"

namespace dtbench {

struct ProcessGrid {
  int64_t tp = 1, pp = 1, dp = 1;
  int64_t tp_rank = 0, pp_rank = 0, dp_rank = 0;
  std::unique_ptr<Communicator> tp_comm;     // same pipeline stage and replica
  std::unique_ptr<Communicator> dp_comm;     // same stage and tensor-parallel rank
  std::unique_ptr<Communicator> pp_comm;     // same replica and tensor-parallel rank: the stages
  std::unique_ptr<Communicator> mp_comm;     // one replica's tp x pp ranks (the gradient norm)
  std::unique_ptr<Communicator> data_comm;   // all stages and replicas of one tp rank (the loss)
  std::unique_ptr<Communicator> embed_comm;  // first and last stage (tied embeddings); null elsewhere
};

// Collective over `world`; tp * pp must divide its size (checked before, with the flags).
ProcessGrid make_process_grid(Communicator& world, int64_t tp, int64_t pp);

}  // namespace dtbench
