// bf16 mixed precision for strategies that keep fp32 parameters (DDP, Megatron): while an
// AutocastBf16 lives, ATen's autocast runs GEMMs and convolutions in bf16 and keeps
// reductions, softmax and losses in fp32; master weights, gradients (and so their
// all-reduce) and optimizer state stay fp32. FSDP casts its gathered parameters itself.
#pragma once

#include <ATen/autocast_mode.h>

namespace dtbench {

class AutocastBf16 {
 public:
  explicit AutocastBf16(at::DeviceType device)
      : device_(device),
        was_enabled_(at::autocast::is_autocast_enabled(device)),
        was_dtype_(at::autocast::get_autocast_dtype(device)) {
    at::autocast::set_autocast_dtype(device_, at::kBFloat16);
    at::autocast::set_autocast_enabled(device_, true);
    at::autocast::increment_nesting();
  }
  ~AutocastBf16() {
    // The cast copies of the weights are cached for one step; the next step's weights differ.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(device_, was_enabled_);
    at::autocast::set_autocast_dtype(device_, was_dtype_);
  }
  AutocastBf16(const AutocastBf16&) = delete;
  AutocastBf16& operator=(const AutocastBf16&) = delete;

 private:
  at::DeviceType device_;
  bool was_enabled_;
  at::ScalarType was_dtype_;
};

}  // namespace dtbench
