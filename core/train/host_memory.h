// How a CPU training run's process manages freed host memory.
#pragma once

namespace dtbench {

// Keeps freed memory inside the process for reuse instead of returning it to the kernel.
// A training step allocates and frees the same large buffers every step (gathered FSDP
// units, flat gradients, activations, logits); glibc serves each of them with a fresh mmap
// and unmaps it on free, so every step faulted in and zeroed hundreds of MiB of new pages
// (23% of an FSDP step's time on a 58M-parameter model, 2 ranks). With mmap off and the
// trim threshold at its maximum, freed chunks go back to malloc's free lists and the next
// step reuses them: the peak RSS stays what the step needs, and it is no longer given back
// between steps. This is what a caching allocator does for GPU memory.
// DTBENCH_KEEP_FREED_MEMORY=0 leaves glibc's defaults, for comparisons. Call it before the
// model is built.
void keep_freed_host_memory();

}  // namespace dtbench
