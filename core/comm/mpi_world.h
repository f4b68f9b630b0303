// MPI: process start-up, the mpi backend and the MPI control plane. Built only with
// DTBENCH_WITH_MPI.
#pragma once

#include <memory>

#include "core/comm/backend.h"
#include "core/comm/control_plane.h"

namespace dtbench {

// MPI_Init_thread with MPI_THREAD_MULTIPLE (required: the communication thread and the
// control plane call MPI concurrently; a library without it is a usage error, exit 2).
// Registers MPI_Abort as the watchdog's abort hook and records the library version.
void mpi_start();
void mpi_finish();  // MPI_Finalize, after every communicator is gone
int mpi_world_rank();
int mpi_world_size();

// Throws RuntimeFailure "<what> failed: <MPI's error string>" unless rc is MPI_SUCCESS.
void mpi_check(int rc, const char* what);

// The mpi backend over a duplicate of MPI_COMM_WORLD; the MPI control plane likewise.
std::unique_ptr<Backend> make_mpi_world_backend();
std::unique_ptr<ControlPlane> make_mpi_world_control_plane();

}  // namespace dtbench
