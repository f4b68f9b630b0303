// Which global samples a rank trains on (docs/ARCHITECTURE.md, "Data and initialization").
//
// Step s has a global batch of B = micro_batch x dp x accumulation samples, global indices
// s*B .. s*B + B - 1. Data-parallel rank r takes [r*b, (r+1)*b) of them, b = micro_batch x
// accumulation, and micro-step k of it the k-th micro_batch of those. So any layout sees the
// global batch one process sees, in the same order.
#pragma once

#include <cstdint>

namespace dtbench {

struct BatchLayout {
  int64_t micro_batch = 1, dp = 1, accumulation = 1;
  int64_t global_batch() const { return micro_batch * dp * accumulation; }
  // First global sample index of `dp_rank`'s micro-step `micro` in step `step`.
  int64_t first_sample(int64_t step, int64_t dp_rank, int64_t micro) const {
    return step * global_batch() + dp_rank * micro_batch * accumulation + micro * micro_batch;
  }
};

}  // namespace dtbench
