#include "core/comm/process_grid.h"

#include "core/report/errors.h"

namespace dtbench {

ProcessGrid make_process_grid(Communicator& world, int64_t tp, int64_t pp, int64_t ep) {
  const int64_t n = world.size(), r = world.rank();
  DT_CHECK(tp >= 1 && pp >= 1 && n % (tp * pp) == 0, "grid tp {} x pp {} does not divide {} ranks", tp, pp, n);
  ProcessGrid g;
  g.tp = tp;
  g.pp = pp;
  g.dp = n / (tp * pp);
  g.tp_rank = r % tp;
  g.dp_rank = r / tp % g.dp;
  g.pp_rank = r / (tp * g.dp);
  DT_CHECK(ep >= 1 && g.dp % ep == 0, "grid: ep {} does not divide dp {}", ep, g.dp);
  g.ep = ep;
  g.ep_rank = g.dp_rank % ep;
  const int64_t column = g.pp_rank * tp + g.tp_rank;  // same stage and tp rank
  const int key = static_cast<int>(r);
  g.tp_comm = world.split(static_cast<int>(g.pp_rank * g.dp + g.dp_rank), key, "tp");
  g.dp_comm = world.split(static_cast<int>(g.pp_rank * tp + g.tp_rank), key, "dp");
  g.pp_comm = world.split(static_cast<int>(g.dp_rank * tp + g.tp_rank), key, "pp");
  g.mp_comm = world.split(static_cast<int>(g.dp_rank / ep), key, "mp");
  if (ep > 1) {
    g.ep_comm = world.split(static_cast<int>(column * (g.dp / ep) + g.dp_rank / ep), key, "ep");
    g.expert_dp_comm = world.split(static_cast<int>(column * ep + g.ep_rank), key, "expert-dp");
  }
  g.data_comm = world.split(static_cast<int>(g.tp_rank), key, "data");
  const bool end_stage = g.pp_rank == 0 || g.pp_rank == pp - 1;
  g.embed_comm = world.split(end_stage ? static_cast<int>(g.dp_rank * tp + g.tp_rank) : -1, key, "embed");
  return g;
}

}  // namespace dtbench
