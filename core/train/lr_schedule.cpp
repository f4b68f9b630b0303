#include "core/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/report/errors.h"

namespace dtbench {

double LrSchedule::at(int64_t step) const {
  if (step < warmup_steps) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (kind == "constant") return lr;
  const int64_t decay_steps = std::max<int64_t>(1, total_steps - warmup_steps - 1);
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / static_cast<double>(decay_steps));
  if (kind == "linear") return lr - (lr - min_lr) * progress;
  return min_lr + (lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

void validate_lr_schedule(const LrSchedule& s) {
  DT_USAGE(s.kind == "cosine" || s.kind == "linear" || s.kind == "constant",
           "--lr-schedule {}: use cosine, linear or constant", s.kind);
  DT_USAGE(s.lr > 0 && s.min_lr >= 0 && s.min_lr <= s.lr, "--lr {} --min-lr {}: need 0 <= min-lr <= lr and lr > 0",
           s.lr, s.min_lr);
  DT_USAGE(s.warmup_steps >= 0 && s.warmup_steps <= s.total_steps,
           "--warmup-steps {}: must be between 0 and --steps {}", s.warmup_steps, s.total_steps);
}

}  // namespace dtbench
