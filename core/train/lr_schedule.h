// Learning rate: linear warmup, then cosine (or linear, or constant) decay to --min-lr at
// the last step.
#pragma once

#include <cstdint>
#include <string>

namespace dtbench {

struct LrSchedule {
  std::string kind = "cosine";  // cosine | linear | constant
  double lr = 1e-4, min_lr = 1e-5;
  int64_t warmup_steps = 0, total_steps = 1;

  // The rate of step `step` (0-based): (step + 1) / warmup of lr during warmup; then the
  // decay from lr to min_lr over the remaining steps.
  double at(int64_t step) const;
};

// Throws UsageError for an unknown kind, lr < min_lr or negative values.
void validate_lr_schedule(const LrSchedule& s);

}  // namespace dtbench
