// Where layers create their parameters. Normally on the CPU, filled later (initialize_*
// or a checkpoint). Inside a MetaParameters scope they are created on the meta device:
// sizes and dtype, no storage. That is how FSDP builds a 70B model on every rank of a node
// without every rank holding the whole model first (8 ranks × 280 GB of fp32 parameters is
// more than a p5's memory): it materialises each unit's shard and makes the parameters
// views of the unit's gathered buffer (core/parallel/fsdp).
#pragma once

#include <ATen/ATen.h>

namespace dtbench {

namespace detail {
inline bool& meta_parameters() {
  static thread_local bool on = false;
  return on;
}
}  // namespace detail

// Options for a new parameter: fp32 on the CPU, or on the meta device inside MetaParameters.
inline at::TensorOptions parameter_options() {
  return at::TensorOptions().dtype(at::kFloat).device(detail::meta_parameters() ? at::kMeta : at::kCPU);
}

// Parameters created on this thread while it lives are meta tensors. Nests.
class MetaParameters {
 public:
  MetaParameters() : previous_(detail::meta_parameters()) { detail::meta_parameters() = true; }
  ~MetaParameters() { detail::meta_parameters() = previous_; }
  MetaParameters(const MetaParameters&) = delete;
  MetaParameters& operator=(const MetaParameters&) = delete;

 private:
  bool previous_;
};

}  // namespace dtbench
