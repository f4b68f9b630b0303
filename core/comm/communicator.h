// The Communicator (docs/ARCHITECTURE.md, "Communicator").
//
// Ops are asynchronous and return a Work; every rank issues them in the same order, and
// each carries this communicator's sequence number. Ops on one communicator complete in
// issue order. Tensors must be contiguous, of one dtype, on the backend's device, and stay
// untouched until the op's work is waited on.
//
// Buffer layouts (n = size(), c = elements per rank):
//   all_reduce(in, out)        in, out: c.                      In place: in is out.
//   all_gather(in, out)        in: c, out: n·c (rank r's at r·c). In place: in is out's chunk r.
//   reduce_scatter(in, out)    in: n·c, out: c (chunk r of the sum). In place: out is in's chunk r.
//   broadcast(in, out, root)   root's in lands in every out.    In place: in is out.
//   reduce(in, out, root)      root's out gets the reduction; other ranks' out is untouched.
//   all_to_all(in, out)        in, out: n·c; chunk j of in goes to rank j, which puts it at chunk r.
//   all_to_all(in, out, in_counts, out_counts)  uneven (MPI_Alltoallv): in holds in_counts[j]
//                              elements for rank j, in rank order; out receives out_counts[j]
//                              from rank j, in rank order; out_counts[j] is rank j's
//                              in_counts[r] (exchange the counts first). Not in place.
//   send(t, dst) / recv(t, src) / send_recv(send, dst, recv, src): point to point; a send and
//   a receive that must happen together (pipeline stages) go in one send_recv.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/comm/backend.h"
#include "core/comm/control_plane.h"
#include "core/comm/fault_injection.h"

namespace dtbench {

struct CommOptions {
  bool debug_collectives = false;  // check op, dtype and count across ranks before each op
};

class Communicator {
 public:
  // `world_ranks[i]` is the world rank of this communicator's rank i (for messages).
  Communicator(std::string name, std::unique_ptr<Backend> backend, std::unique_ptr<ControlPlane> control,
               std::vector<int> world_ranks, CommOptions options);
  ~Communicator();

  const std::string& name() const { return name_; }
  int rank() const { return backend_->rank(); }
  int size() const { return backend_->size(); }
  const char* backend_name() const { return backend_->name(); }
  at::Device device() const { return backend_->device(); }  // where its tensors must be
  const std::vector<int>& world_ranks() const { return world_ranks_; }
  ControlPlane& control() { return *control_; }

  std::shared_ptr<Work> all_reduce(const at::Tensor& in, const at::Tensor& out, ReduceOp op = ReduceOp::kSum);
  std::shared_ptr<Work> all_reduce(const at::Tensor& t, ReduceOp op = ReduceOp::kSum) { return all_reduce(t, t, op); }
  std::shared_ptr<Work> all_gather(const at::Tensor& in, const at::Tensor& out);
  std::shared_ptr<Work> reduce_scatter(const at::Tensor& in, const at::Tensor& out, ReduceOp op = ReduceOp::kSum);
  std::shared_ptr<Work> broadcast(const at::Tensor& in, const at::Tensor& out, int root);
  std::shared_ptr<Work> broadcast(const at::Tensor& t, int root) { return broadcast(t, t, root); }
  std::shared_ptr<Work> reduce(const at::Tensor& in, const at::Tensor& out, int root, ReduceOp op = ReduceOp::kSum);
  std::shared_ptr<Work> all_to_all(const at::Tensor& in, const at::Tensor& out);
  std::shared_ptr<Work> all_to_all(const at::Tensor& in, const at::Tensor& out, std::vector<int64_t> in_counts,
                                   std::vector<int64_t> out_counts);
  std::shared_ptr<Work> send(const at::Tensor& t, int dst);
  std::shared_ptr<Work> recv(const at::Tensor& t, int src);
  std::shared_ptr<Work> send_recv(const at::Tensor& send, int dst, const at::Tensor& recv, int src);
  std::shared_ptr<Work> barrier();

  // Ranks with the same color form a new communicator, ordered by (key, rank). Collective;
  // returns nullptr where color < 0.
  std::unique_ptr<Communicator> split(int color, int key, const std::string& name);

  uint64_t next_seq() const { return seq_; }
  void set_debug_collectives(bool on) { options_.debug_collectives = on; }

 private:
  std::shared_ptr<Work> issue(OpArgs args);
  std::string peers_text(const OpArgs& a) const;

  std::string name_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<ControlPlane> control_;
  std::vector<int> world_ranks_;
  std::string group_;  // world_ranks_ as "0-3,6"
  CommOptions options_;
  std::optional<FaultOp> fault_;  // DTBENCH_FAULT_OP, where it names this rank and communicator
  uint64_t seq_ = 0;
};

// "0-3,6,8-9" for a sorted list of ranks.
std::string rank_ranges(const std::vector<int>& ranks);

}  // namespace dtbench
