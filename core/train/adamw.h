// AdamW with decoupled weight decay (Loshchilov & Hutter), none on norms and biases.
//
// It updates whatever tensors it is given: whole parameters (one process, DDP), a rank's
// flat shard (FSDP), or a tensor-parallel slice; the state has the same shape. State is
// kept in fp32 for fp32, bf16 and fp16 parameters (fp64 in fp64).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace dtbench {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.0;
  // The fused step (kernels/dispatch.h) where a tensor fits it; false keeps every tensor on
  // the ATen ops, torch.optim.AdamW's arithmetic, which the fused paths are checked against.
  bool fused = true;
};

class AdamW {
 public:
  explicit AdamW(AdamWOptions opt) : opt_(opt) {}

  // Registers a tensor to update; `decay` is false for norms and biases.
  void add(const std::string& name, const at::Tensor& param, bool decay);

  // One step with learning rate `lr`, reading each parameter's .grad() (or `grads` when
  // given, in add() order). Parameters without a gradient are skipped.
  void step(double lr, const std::vector<at::Tensor>& grads = {});

  int64_t steps_taken() const { return step_; }

  // Whether `name` takes weight decay by our rule: not norms, not biases.
  static bool decays(const std::string& name);

  // State for checkpoints: step, and per parameter exp_avg and exp_avg_sq.
  struct Slot {
    std::string name;
    at::Tensor param, exp_avg, exp_avg_sq;
    bool decay;
  };
  std::vector<Slot>& slots() { return slots_; }
  void set_steps_taken(int64_t s) { step_ = s; }

 private:
  AdamWOptions opt_;
  std::vector<Slot> slots_;
  int64_t step_ = 0;
};

}  // namespace dtbench
