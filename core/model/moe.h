// A mixture-of-experts MLP (Mixtral): a router (linear hidden -> experts, no bias, fp32,
// replicated) picks k of E SwiGLU experts per token; the token's output is the sum of their
// outputs weighted by the renormalised router probabilities. Dropless: every token reaches
// its k experts, whatever the load. The load-balancing loss (core/layers/router.h) is
// weighted by --aux-loss-coef, averaged over layers and the global batch's sequences, and
// joins backward through the block's output (core/layers/moe_aux.h).
//
// Parallel layouts (no collective is called here; the layers' functions call them):
//   tensor parallelism: every expert is split as a dense MLP is (up/gate by columns, down by
//     rows). Without sequence parallelism the router sees the replicated input and the
//     experts' partial sums complete before they are weighted; with it the sequence is
//     gathered first, so the router sees every token of its sequences and the weighted
//     partial sums are reduce-scattered (the router's gradient is then a partial sum, as a
//     norm's is). Either way a token is routed exactly as on one process.
//   expert parallelism: this rank holds experts [rank·E/ep, (rank+1)·E/ep), named by their
//     index in the whole model ("moe.experts.5.up.weight"), and the tokens travel to them
//     and back (core/layers/expert_parallel.h).
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "core/layers/expert_parallel.h"
#include "core/layers/linear.h"
#include "core/layers/tensor_parallel.h"
#include "core/model/config.h"
#include "core/model/mlp.h"

namespace dtbench {

// Whether parameter `name` belongs to an expert (held by one expert-parallel rank).
inline bool is_expert_parameter(const std::string& name) { return name.find("moe.experts.") != std::string::npos; }

class MoeImpl : public torch::nn::Module {
 public:
  MoeImpl(const ModelConfig& c, const TensorParallel& tp, const ExpertParallel& ep, int64_t layer);
  // [b, t, h] -> [b, t, h] (t: this rank's share under sequence parallelism).
  at::Tensor forward(const at::Tensor& x);

  Linear router{nullptr};
  std::vector<Mlp> experts;  // this rank's, in index order (the module "experts" names them globally)

 private:
  // This rank's experts on `rows` [r, h], the first counts[0] rows for its first expert and
  // so on: [r, h] (partial sums under tensor parallelism).
  at::Tensor run_local(const at::Tensor& rows, const std::vector<int64_t>& counts);
  // The chosen experts' outputs for `rows` [N·k, h] sorted by expert, counts[e] of them for
  // expert e (all E): sent to the experts' ranks and back under expert parallelism.
  at::Tensor run_experts(const at::Tensor& rows, const std::vector<int64_t>& counts);

  int64_t experts_total_, top_k_, layers_, layer_;
  double coef_;
  TensorParallel tp_;
  ExpertParallel ep_;
};
TORCH_MODULE(Moe);

}  // namespace dtbench
