// CUDA_CHECK(call): a CUDA runtime call that must succeed, else a runtime error (exit 3) with
// the error's name and text, the call and file:line. For .cu files only.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/check.h"

#define CUDA_CHECK(call)                                                                                          \
  do {                                                                                                            \
    const cudaError_t err_ = (call);                                                                              \
    if (err_ != cudaSuccess)                                                                                      \
      ::dtbench::kernels::fail_cuda(cudaGetErrorName(err_), cudaGetErrorString(err_), #call, __FILE__, __LINE__); \
  } while (0)

// After a launch: launch-configuration errors surface here rather than at a later call.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
