// The CUDA side of core/train/device.h, compiled only with a CUDA libtorch; without one
// these throw (nothing reaches them: --device cuda exits 2 before).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace dtbench {

class StepTimer;

// The caching allocator's peak of allocated bytes on `device` since start.
int64_t cuda_peak_allocated_bytes(int device);

// The free memory of GPU `device` (cudaMemGetInfo), for refusing what cannot be allocated.
int64_t cuda_free_bytes(int device);

// GPU `device`'s PCI domain:bus:device as nccl-tests prints it ("0000:1b:00").
std::string cuda_pci_id(int device);

// A timer of CUDA events on GPU `device`'s current stream (named by index: the stream of
// whatever device happens to be current would be an idle one elsewhere): start() and stop()
// record events, stop_s() waits for the second and returns the time between them.
std::unique_ptr<StepTimer> make_cuda_step_timer(int device);

}  // namespace dtbench
