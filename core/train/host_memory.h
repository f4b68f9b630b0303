// How a CPU training run's process manages host memory for tensors.
#pragma once

#include <cstddef>

namespace dtbench {

// Installs a caching allocator as libtorch's CPU allocator: a freed tensor buffer of 1 MiB or
// more is kept and handed out again for the next request of exactly its size. A training
// step allocates and frees the same large buffers every step (gathered FSDP units, flat
// gradients, activations, logits); glibc serves each with a fresh mapping and unmaps it on
// free, so every step faulted in and zeroed hundreds of MiB of new pages (23% of an FSDP
// step's time on a 58M-parameter model, 2 ranks). glibc's own knobs do not cure it:
// libtorch's 64-byte-aligned requests need a little more than the chunk a freed buffer
// leaves, so the heap grows instead. This is what the caching allocator does for GPU
// memory: a rank's RSS holds its steady-state working set between steps. Cached buffers are
// released when they exceed an eighth of physical memory and a new size is asked for.
// DTBENCH_KEEP_FREED_MEMORY=0 leaves libtorch's allocator, for comparisons. Call it before
// the model is built; tensors allocated before keep their own allocator.
void keep_freed_host_memory();

// Bytes the cache holds for reuse now (0 when it is not installed).
std::size_t cached_host_bytes();

}  // namespace dtbench
