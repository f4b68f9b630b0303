// Loud checks for the raw kernel code (.cu and the CPU references), which include neither
// ATen nor fmt: a failed check throws dtbench's runtime error (exit 3) naming file:line.
#pragma once

namespace dtbench::kernels {

[[noreturn]] void fail_check(const char* what, const char* file, int line);
// For CUDA_CHECK (kernels/cuda_check.h): the error's name and text, the failed call.
[[noreturn]] void fail_cuda(const char* name, const char* text, const char* call, const char* file, int line);

}  // namespace dtbench::kernels

#define KERNEL_CHECK(cond, what)                                                                       \
  do {                                                                                                 \
    if (!(cond)) ::dtbench::kernels::fail_check("check failed: " #cond ": " what, __FILE__, __LINE__); \
  } while (0)
