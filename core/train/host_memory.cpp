#include "core/train/host_memory.h"

#include <malloc.h>

#include <climits>
#include <cstdlib>
#include <cstring>

namespace dtbench {

void keep_freed_host_memory() {
  const char* v = std::getenv("DTBENCH_KEEP_FREED_MEMORY");
  if (v != nullptr && std::strcmp(v, "0") == 0) return;
#if defined(__GLIBC__)
  // No allocation is served by its own mmap (large ones come from the heap, whose free
  // lists keep them), and the heap's top is trimmed only beyond 2 GiB free.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

}  // namespace dtbench
