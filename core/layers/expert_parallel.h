// Expert parallelism: the experts of every MoE block are split over an expert-parallel group,
// rank j holding experts [j·E/ep, (j+1)·E/ep). A token goes to the ranks of its k experts and
// comes back: two all_to_alls with uneven counts (dispatch and combine), the counts exchanged
// first with an even all_to_all. exchange_rows is conjugate with itself: its backward moves
// the gradient rows back the way they came.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace dtbench {

class Communicator;

struct ExpertParallel {
  Communicator* comm = nullptr;  // nullptr: size 1, every expert here
  int64_t size() const;
  int64_t rank() const;
};

// The rows of `x` [rows, ...]: send_rows[j] of them, in order, go to rank j; returns what
// arrives, recv_rows[j] rows from rank j, in rank order. Differentiable.
at::Tensor exchange_rows(const at::Tensor& x, const std::vector<int64_t>& send_rows,
                         const std::vector<int64_t>& recv_rows, Communicator& comm);

// Seconds this process has spent in exchange_rows and exchange_counts (the dispatch and
// combine all_to_alls; on CUDA, the compute stream's stalls: core/comm/wait_timer.h).
double expert_exchange_s();

// `counts` [n·m] int64 (m values for each rank, in rank order): returns [n·m], where chunk j
// holds rank j's m values for this rank. On the host.
std::vector<int64_t> exchange_counts(const std::vector<int64_t>& counts, Communicator& comm);

}  // namespace dtbench
