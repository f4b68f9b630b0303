// Whether this thread is inside an activation-checkpointing recompute: the forward run again
// in backward, and its differentiation. Gradient hooks on parameters also fire inside the
// recompute's inner differentiation (core/model/recompute.h); hooks that act on gradients
// (DDP) must ignore those calls: the same gradients reach them again when the outer graph
// delivers them. Figures counted in forward (core/layers/moe_aux.h) skip the second forward. Kept here, below the model
// that recomputes and the strategies that ask, so that neither depends on the other.
#pragma once

namespace dtbench {

namespace detail {
inline thread_local int recompute_depth = 0;
}

// Marks the current thread as recomputing while it lives.
struct RecomputeScope {
  RecomputeScope() { ++detail::recompute_depth; }
  ~RecomputeScope() { --detail::recompute_depth; }
  RecomputeScope(const RecomputeScope&) = delete;
  RecomputeScope& operator=(const RecomputeScope&) = delete;
};

inline bool in_recompute() { return detail::recompute_depth > 0; }

}  // namespace dtbench
