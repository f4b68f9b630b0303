// Bringing up the world: launch discovery's result, a backend and a control plane become
// the world Communicator. Everything that can be wrong with the request is found by
// validate_world() before any communication starts (exit 2).
#pragma once

#include <memory>
#include <string>

#include "core/comm/clock_sync.h"
#include "core/comm/communicator.h"
#include "core/comm/launch_env.h"

namespace dtbench {

struct WorldOptions {
  std::string backend = "auto";  // mpi | nccl | store | auto (cuda: nccl; cpu: mpi where mpirun started us, else store)
  std::string device = "cpu";    // cpu | cuda
  double timeout_s = 600;
  bool debug_collectives = false;
  std::string run_dir = ".";
  std::string trace_dir;  // --trace: write the rank's timeline there (core/comm/trace_file.h)
};

// What this build contains.
bool built_with_mpi();
bool built_with_nccl();

// The backend `auto` resolves to.
std::string resolve_backend(const WorldOptions& opt, const LaunchInfo& launch, const EnvMap& env);

// Throws UsageError naming the cause and the fix; touches no network.
void validate_world(const LaunchInfo& launch, const WorldOptions& opt, const EnvMap& env);

// With --device cuda: makes GPU <local rank> this process's current device, once and for
// good, before any other CUDA or NCCL call (a scoped guard would leave GPU 0 current
// afterwards, and every allocation, stream and event without an index would land there).
// Every main calls it right after validate_world; init_world calls it too.
void use_rank_device(const LaunchInfo& launch, const WorldOptions& opt);

class World {
 public:
  ~World();  // communicators first, then MPI_Finalize
  LaunchInfo launch;
  std::string backend, control_kind;
  int device_index = -1;  // CUDA device, -1 on CPU
  std::string nccl_log;   // where NCCL writes its INFO lines ("" when not captured)
  std::unique_ptr<Communicator> comm;
  // --trace (trace_file.h): the folder ("" when not tracing), the run's id, the clocks at the start.
  std::string trace_dir, trace_run_id;
  ClockOffset trace_clock_start;
};

// Validates, then starts MPI or the TCP store, and builds the world communicator.
std::unique_ptr<World> init_world(const LaunchInfo& launch, const WorldOptions& opt, const EnvMap& env);

}  // namespace dtbench
