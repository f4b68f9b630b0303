// The store backend: collectives on CPU tensors over the control plane's byte exchange
// (the TCP store, or MPI's), for processes that mpirun did not start: the local launcher's
// children, a Kubernetes pod per rank, a machine without MPI. Every op is an all-gather
// of the ranks' bytes followed by the same local reduction on every rank, in rank order,
// so results are identical across ranks. All bytes pass through the store's server: it is
// for correctness runs and small models, not for measuring a fabric. No point-to-point ops
// (pipeline parallelism needs mpi or nccl).
#pragma once

#include <memory>

#include "core/comm/backend.h"
#include "core/comm/control_plane.h"

namespace dtbench {

// Takes a control plane of its own (split off the world's, so the ops never interleave
// with the caller's exchanges).
std::unique_ptr<Backend> make_store_backend(std::unique_ptr<ControlPlane> plane);

}  // namespace dtbench
