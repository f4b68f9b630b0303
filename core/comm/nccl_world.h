// The nccl backend for CUDA tensors. Built only with DTBENCH_WITH_NCCL (a CUDA libtorch
// and the wheel's nccl.h).
#pragma once

#include <memory>

#include "core/comm/backend.h"
#include "core/comm/control_plane.h"

namespace dtbench {

// Makes `device` the calling thread's current CUDA device (c10::cuda::set_device: a no-op when
// it already is; never restored to another).
void set_cuda_device(int device);

// Checks the loaded libnccl against the headers and records version and path.
void nccl_check_library();

// Records the GPU's name, memory and compute capability, the driver's and the runtime's CUDA.
void record_gpu_info(int device);

// A world communicator on `device`: rank 0 makes the ncclUniqueId and the control plane
// (MPI or the TCP store) hands it to everyone; the communicator is created non-blocking,
// so that the watchdog can abort it, and must be ready within `timeout_s`.
std::unique_ptr<Backend> make_nccl_world_backend(ControlPlane& control, int device, double timeout_s);

}  // namespace dtbench
