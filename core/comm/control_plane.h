// The control plane: small, blocking exchanges of bytes among the ranks of a communicator,
// beside the data path. It carries the ncclUniqueId, split memberships, the
// --debug-collectives checks and the benchmark's per-rank figures.
//
// Two implementations: MPI (a duplicate of the communicator's MPI_Comm) and a TCP
// key-value store (libtorch's c10d TCPStore at MASTER_ADDR:MASTER_PORT, for launches
// without MPI), its server listening on that address only, every value sealed with the job's
// token. Every call is watched by the watchdog; a store wait also ends at the
// communication timeout.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dtbench {

class ControlPlane {
 public:
  virtual ~ControlPlane() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string kind() const = 0;  // "mpi" or "store"
  // Every rank's `mine`, indexed by rank. Collective: all ranks call it in the same order.
  virtual std::vector<std::string> all_gather(const std::string& mine) = 0;
  // Ranks with the same color form a child plane, ordered by (key, rank); color < 0: none.
  virtual std::unique_ptr<ControlPlane> split(int color, int key) = 0;
  void barrier() { all_gather(""); }
  // all_gather where every rank's bytes must be `bytes` long (`only_rank` >= 0: that rank's
  // only); a rank that sent another size is exit 3 naming the exchange and both sizes, so that
  // ranks that disagree on a buffer size stop here instead of overrunning a buffer.
  std::vector<std::string> all_gather_exact(const std::string& mine, std::size_t bytes, int only_rank = -1);
  // The name of the last exchange (a store key's prefix), for messages.
  virtual std::string last_exchange() const { return kind() + " all_gather"; }
  // Whether each exchange is a watched call of its own in the comm trace (the default). A
  // backend that moves its ops' data through a plane turns it off: the Communicator already
  // traces those ops, and the store's own wait ends at the communication timeout.
  void set_traced(bool on) { traced_ = on; }

 protected:
  bool traced_ = true;
};

// A split's membership from every rank's "color key" (as split() exchanges them): the
// parent ranks of `color`, ordered by (key, parent rank).
std::vector<int> split_members(const std::vector<std::string>& color_keys, int color);
std::string split_request(int color, int key);

// The TCP store's server (rank 0, unless torchrun's agent serves it) listens on `host` only.
// What ranks exchange is bound to the job's token (core/comm/store_auth.h).
struct StoreOptions {
  std::string host = "127.0.0.1";
  int port = 29500;
  int rank = 0, size = 1;
  bool serve = true;  // rank 0 serves the store unless an agent (torchrun) already does
  double timeout_s = 600;
  std::string token;  // DTBENCH_JOB_TOKEN; empty only where `host` is loopback
};
// The options for a launch: its rendezvous address and ranks, and the job's token from `env`
// (exit 2 when there is none and the address is not loopback).
struct LaunchInfo;
StoreOptions store_options(const LaunchInfo& launch, double timeout_s, const std::map<std::string, std::string>& env);
std::unique_ptr<ControlPlane> make_store_control_plane(const StoreOptions& opt);

}  // namespace dtbench
