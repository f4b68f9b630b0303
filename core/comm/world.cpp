#include "core/comm/world.h"

#include <ATen/Context.h>
#include <fmt/format.h>

#include <exception>
#include <numeric>

#include "core/comm/fault_injection.h"
#include "core/comm/store_backend.h"
#include "core/comm/trace_file.h"
#include "core/comm/watchdog.h"
#include "core/report/errors.h"
#include "core/report/log.h"
#include "core/report/nccl_log.h"
#include "core/report/system_info.h"
#ifdef DTBENCH_WITH_MPI
#include "core/comm/mpi_world.h"
#endif
#ifdef DTBENCH_WITH_NCCL
#include "core/comm/nccl_world.h"
#endif
#ifdef DTBENCH_WITH_LIBFABRIC
#include "core/comm/fabric_version.h"
#endif

namespace dtbench {

namespace {

// MPI can start these processes: mpirun's, srun --mpi=pmix's, a PMI launcher's, or a
// single process (an MPI singleton).
bool mpi_can_start(const LaunchInfo& l, const EnvMap& env) {
  if (l.source == "openmpi" || l.source == "pmix" || l.source == "pmi") return true;
  if (l.source == "slurm") return env.count("PMIX_RANK") > 0 || env.count("PMI_RANK") > 0;
  return l.world_size == 1 && !l.node_level;
}

}  // namespace

bool built_with_mpi() {
#ifdef DTBENCH_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool built_with_nccl() {
#ifdef DTBENCH_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::string resolve_backend(const WorldOptions& opt, const LaunchInfo& launch, const EnvMap& env) {
  if (opt.backend != "auto") return opt.backend;
  if (opt.device == "cuda") return "nccl";
  return built_with_mpi() && mpi_can_start(launch, env) ? "mpi" : "store";
}

void validate_world(const LaunchInfo& launch, const WorldOptions& opt, const EnvMap& env) {
  DT_USAGE(opt.device == "cpu" || opt.device == "cuda", "--device {}: unknown device; use cpu or cuda", opt.device);
  const std::string backend = resolve_backend(opt, launch, env);
  DT_USAGE(backend == "mpi" || backend == "nccl" || backend == "store",
           "--backend {}: unknown backend; use mpi, nccl or store", backend);
  DT_USAGE(opt.timeout_s > 0, "--comm-timeout {}: must be a positive number of seconds", opt.timeout_s);
  DT_USAGE(!launch.node_level || launch.local_world_size == 1,
           "{} launch with {} processes per node: start them with the local launcher (build/launch/dtbench-launch) "
           "or set the processes per node to 1",
           launch.source, launch.local_world_size);
  if (backend == "mpi") {
    DT_USAGE(built_with_mpi(),
             "--backend mpi: this build has no MPI (DTBENCH_WITH_MPI=OFF); install "
             "libopenmpi-dev and rebuild, or use --backend nccl on GPUs");
    DT_USAGE(opt.device == "cpu", "--backend mpi runs on CPU tensors; use --device cpu, or --backend nccl on GPUs");
    DT_USAGE(mpi_can_start(launch, env),
             "--backend mpi needs processes started by mpirun or srun --mpi=pmix, but this launch is '{}'; "
             "start with mpirun, or use --backend nccl on GPUs",
             launch.source);
  } else if (backend == "store") {
    DT_USAGE(opt.device == "cpu", "--backend store runs on CPU tensors; use --device cpu, or --backend nccl on GPUs");
  } else {
    DT_USAGE(built_with_nccl(),
             "--backend nccl: this build has no NCCL (no CUDA toolkit or CUDA libtorch at "
             "build time); rebuild on a machine with both, or use --backend mpi on CPU");
    DT_USAGE(opt.device == "cuda", "--backend nccl runs on CUDA tensors; use --device cuda, or --backend mpi on CPU");
  }
  if (opt.device == "cuda") {
    const auto gpus = static_cast<int>(at::getNumGPUs());
    DT_USAGE(gpus > 0, "--device cuda: no CUDA device is visible here (CUDA_VISIBLE_DEVICES='{}'); use --device cpu",
             env.count("CUDA_VISIBLE_DEVICES") ? env.at("CUDA_VISIBLE_DEVICES") : "");
    DT_USAGE(launch.local_rank < gpus,
             "--device cuda: local rank {} has no GPU of its own ({} visible); start at most {} processes per node",
             launch.local_rank, gpus, gpus);
  }
}

World::~World() {
  if (std::uncaught_exceptions() > 0) {
    // Unwinding towards run_guarded, which aborts the job (MPI_Abort, ncclCommAbort): a
    // graceful close here (MPI_Finalize, the store's farewell) would wait for peers that
    // may be dead or hung. The process exits right after; nothing needs freeing.
    (void)comm.release();
    return;
  }
  comm.reset();
#ifdef DTBENCH_WITH_MPI
  mpi_finish();
#endif
}

void use_rank_device(const LaunchInfo& launch, const WorldOptions& opt) {
  if (opt.device != "cuda") return;
#ifdef DTBENCH_WITH_NCCL
  set_cuda_device(launch.local_rank);
#else
  (void)launch;
#endif
}

std::unique_ptr<World> init_world(const LaunchInfo& launch, const WorldOptions& opt, const EnvMap& env) {
  validate_world(launch, opt, env);
  (void)fault_op_from_env();  // a malformed DTBENCH_FAULT_OP is exit 2 before any exchange
  auto world = std::make_unique<World>();
  world->launch = launch;
  world->backend = resolve_backend(opt, launch, env);
  Watchdog::instance().configure(opt.timeout_s, opt.run_dir, launch.rank);
  set_log_rank(launch.rank);

  std::unique_ptr<ControlPlane> control;
#ifdef DTBENCH_WITH_MPI
  if (mpi_can_start(launch, env)) {
    mpi_start();
    DT_USAGE(mpi_world_rank() == launch.rank && mpi_world_size() == launch.world_size,
             "MPI says rank {} of {} but the launch environment ({}) says rank {} of {}; unset the stale variables",
             mpi_world_rank(), mpi_world_size(), launch.source, launch.rank, launch.world_size);
    control = make_mpi_world_control_plane();
  }
#endif
  if (!control) {
    control = make_store_control_plane(store_options(launch, opt.timeout_s, env));
  }
  world->control_kind = control->kind();

  std::unique_ptr<Backend> backend;
  if (world->backend == "store") backend = make_store_backend(control->split(0, launch.rank));
#ifdef DTBENCH_WITH_MPI
  if (world->backend == "mpi") backend = make_mpi_world_backend();
#endif
#ifdef DTBENCH_WITH_NCCL
  if (world->backend == "nccl") {
    use_rank_device(launch, opt);
    world->nccl_log = capture_nccl_log(opt.run_dir, launch.rank);  // before NCCL reads its settings
    nccl_check_library();
    world->device_index = launch.local_rank;
    record_gpu_info(world->device_index);
    backend = make_nccl_world_backend(*control, world->device_index, opt.timeout_s);
  }
#endif
  DT_CHECK(backend != nullptr, "backend {} is not in this build", world->backend);
  std::vector<int> ranks(launch.world_size);
  std::iota(ranks.begin(), ranks.end(), 0);
  world->comm = std::make_unique<Communicator>("world", std::move(backend), std::move(control), std::move(ranks),
                                               CommOptions{opt.debug_collectives});
  // Who is where, for the comm traces and the desync report (a rank that hangs later cannot
  // say it then).
  Watchdog::instance().set_hosts(world->comm->control().all_gather(short_hostname()));
  start_trace(*world, opt.trace_dir);
#ifdef DTBENCH_WITH_LIBFABRIC
  record_libfabric_version();
#endif
  // What the libraries set for themselves is visible only now.
  set_system_info("env", fabric_environment());
  return world;
}

}  // namespace dtbench
