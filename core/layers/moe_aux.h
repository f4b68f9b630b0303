// The load-balancing loss's way into backward, and the MoE figures a step reports.
//
// Each MoE block computes its auxiliary loss where its tokens are, which under pipeline
// parallelism is not where the language-model loss is. So the aux loss never joins the
// loss tensor: the block's output carries it (attach_aux_loss, Megatron's
// MoEAuxLossAutoScaler), and backward gives it the gradient the objective asks for. The loop
// says what it divides its summed loss by (set_aux_loss_scale), so the aux loss is scaled as
// the language-model loss is, on every strategy and schedule.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>

namespace dtbench {

// 1 / what the loop divides this rank's summed loss by before backward.
void set_aux_loss_scale(double scale);
double aux_loss_scale();

// `y` unchanged; in backward `aux` (a scalar) gets the gradient `grad`.
at::Tensor attach_aux_loss(const at::Tensor& y, const at::Tensor& aux, double grad);

// Per layer, what the step's forwards routed: how many tokens chose each expert and the
// summed per-sequence load-balancing loss, each weighted so that summing over every rank of
// the world counts each token once (a tensor-parallel group routes the same tokens on each
// of its ranks). Forwards recomputed for activation checkpointing are not counted. One per
// process (one model per process); the loop takes it once a step.
class MoeStats {
 public:
  static MoeStats& instance();
  void record(int64_t layer, const at::Tensor& counts, const at::Tensor& aux_sum, double weight);
  // [layers * experts + 1] fp64 on `like`'s device: counts by layer then expert, then the aux
  // sum; zero for layers this rank does not hold. Starts the next step's figures.
  at::Tensor take(int64_t layers, int64_t experts, const at::Tensor& like);

 private:
  struct Layer {
    at::Tensor counts, aux;  // fp64, on the model's device: nothing is read until take()
  };
  std::map<int64_t, Layer> layers_;
};

}  // namespace dtbench
