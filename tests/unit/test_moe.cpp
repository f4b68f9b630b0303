// The mixture of experts: Mixtral's parameter counts, the FLOPs formula, routing (ties, the
// renormalised weights), the load-balancing loss at its two ends, and the MoE block against
// a plain loop over tokens, forward and backward, with the aux loss's gradient.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <torch/csrc/autograd/autograd.h>

#include "core/layers/moe_aux.h"
#include "core/layers/router.h"
#include "core/model/moe.h"
#include "core/model/transformer.h"
#include "core/report/errors.h"

using namespace dtbench;

TEST_CASE("Mixtral 8x7B: published shape, total and active parameters") {
  const ModelConfig c = find_model("mixtral_8x7b");
  CHECK(parameter_count(c) == 46702792704LL);
  CHECK(active_parameter_count(c) == 12879925248LL);
  CHECK(find_model("mistral_8x7b").name == "mixtral_8x7b");  // AWS's name
  // A dense model's active parameters are all of them.
  CHECK(active_parameter_count(find_model("llama2_7b")) == parameter_count(find_model("llama2_7b")));
}

TEST_CASE("MoE FLOPs per token count the k active experts and the router") {
  const ModelConfig c = find_model("mixtral_8x7b");
  const double h = 4096, T = 4096, V = 32000, ffn = 14336, d = 128, kv = 8, E = 8, k = 2;
  const double per_layer = 2 * h * (h + 2 * kv * d) + 2 * h * h + 2 * T * h + 2 * k * 3 * h * ffn + 2 * h * E;
  CHECK(flops_per_token(c, 4096) == Approx(3 * (32 * per_layer + 2 * h * V)));
}

TEST_CASE("a model built with experts holds what the arithmetic counts") {
  const ModelConfig c = find_model("tiny_moe");
  Transformer m(c);
  int64_t n = 0;
  for (auto& p : m->parameters()) n += p.numel();
  CHECK(n == parameter_count(c));
  CHECK(m->named_parameters().contains("blocks.1.moe.experts.7.down.weight"));
  CHECK(m->named_parameters().contains("blocks.0.moe.router.weight"));
}

TEST_CASE("routing: ties go to the lower expert, weights renormalised") {
  // Experts 1, 2 and 3 tie; the top 2 are 1 and 2 whatever topk would say.
  const at::Tensor logits = at::tensor({0.0f, 2.0f, 2.0f, 2.0f, 1.0f}).view({1, 5});
  const Routing r = route(logits, 2);
  CHECK(r.experts[0][0].item<int64_t>() == 1);
  CHECK(r.experts[0][1].item<int64_t>() == 2);
  CHECK(r.weights[0][0].item<float>() == Approx(0.5));
  CHECK(r.weights.sum().item<float>() == Approx(1.0));
  CHECK(r.probs.sum().item<float>() == Approx(1.0));
}

TEST_CASE("load-balancing loss: k when balanced, E when collapsed") {
  const int64_t E = 4, k = 2;
  // Balanced: 4 tokens, equal logits; ties give every token experts 0 and 1, so spread the
  // choices by hand: tokens prefer (0,1), (2,3), (0,1), (2,3) with near-uniform probability.
  const at::Tensor even =
      at::tensor({1e-4f, 1e-4f, 0.f, 0.f, 0.f, 0.f, 1e-4f, 1e-4f, 1e-4f, 1e-4f, 0.f, 0.f, 0.f, 0.f, 1e-4f, 1e-4f})
          .view({4, E});
  CHECK(load_balancing_sum(route(even, k), 1).item<float>() == Approx(static_cast<double>(k)).epsilon(1e-3));
  // Collapsed: every token sure of expert 0 (and second choice 1).
  const at::Tensor sure = at::tensor({30.f, 0.f, 0.f, 0.f}).repeat({4, 1});
  CHECK(load_balancing_sum(route(sure, k), 1).item<float>() == Approx(static_cast<double>(E)).epsilon(1e-3));
  // Two sequences sum their losses.
  CHECK(load_balancing_sum(route(sure.repeat({2, 1}), k), 2).item<float>() ==
        Approx(2.0 * static_cast<double>(E)).epsilon(1e-3));
}

namespace {

// The MoE block token by token: softmax, the stable top-k, renormalise, sum the experts.
at::Tensor reference(MoeImpl& moe, const at::Tensor& x, int64_t k) {
  const int64_t h = x.size(-1);
  const at::Tensor flat = x.reshape({-1, h});
  std::vector<at::Tensor> rows;
  for (int64_t i = 0; i < flat.size(0); ++i) {
    const at::Tensor p = at::softmax(at::linear(flat[i], moe.router->weight), -1);
    std::vector<std::pair<float, int64_t>> order;
    for (int64_t e = 0; e < p.size(0); ++e) order.push_back({-p[e].item<float>(), e});
    std::stable_sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.first < b.first; });
    at::Tensor norm = at::zeros({}, p.options());
    for (int64_t j = 0; j < k; ++j) norm = norm + p[order[j].second];
    at::Tensor y = at::zeros({h}, flat.options());
    for (int64_t j = 0; j < k; ++j) {
      const int64_t e = order[j].second;
      y = y + p[e] / norm * moe.experts[e]->partial(flat[i].unsqueeze(0))[0];
    }
    rows.push_back(y);
  }
  return at::stack(rows).view(x.sizes());
}

}  // namespace

TEST_CASE("the MoE block equals a loop over tokens, forward and backward") {
  at::manual_seed(3);
  ModelConfig c = find_model("tiny_moe");
  Moe moe(c, TensorParallel{}, ExpertParallel{}, 0);
  for (auto& p : moe->parameters()) p.data().normal_(0, 0.1);
  const at::Tensor x = at::randn({2, 7, c.hidden}).requires_grad_(true);
  set_aux_loss_scale(0.0);  // the block's output alone: the aux loss gets no gradient
  const at::Tensor y = moe->forward(x);
  const at::Tensor want = reference(*moe, x, c.top_k);
  CHECK(at::allclose(y, want, 1e-4, 1e-6));
  const at::Tensor g = at::randn(y.sizes());
  const auto grads = torch::autograd::grad({y}, {x, moe->router->weight, moe->experts[2]->up->weight}, {g});
  const auto want_grads = torch::autograd::grad({want}, {x, moe->router->weight, moe->experts[2]->up->weight}, {g});
  for (std::size_t i = 0; i < grads.size(); ++i) CHECK(at::allclose(grads[i], want_grads[i], 1e-4, 1e-6));
  MoeStats::instance().take(c.layers, c.experts, y);  // leave nothing for other tests
}

TEST_CASE("the aux loss reaches the router with the gradient its scale asks for") {
  at::manual_seed(4);
  ModelConfig c = find_model("tiny_moe");
  c.aux_loss_coef = 0.5;
  Moe moe(c, TensorParallel{}, ExpertParallel{}, 1);
  for (auto& p : moe->parameters()) p.data().normal_(0, 0.1);
  const at::Tensor x = at::randn({3, 5, c.hidden});
  const double scale = 1.0 / 15.0;  // the loop divides by 3 sequences x 5 tokens
  set_aux_loss_scale(scale);
  const at::Tensor y = moe->forward(x);
  const at::Tensor via_block = torch::autograd::grad({y.sum() * 0.0}, {moe->router->weight})[0];
  // By hand: coefficient x aux summed over sequences / (layers x sequences).
  const Routing r = route(at::linear(x.reshape({-1, c.hidden}), moe->router->weight), c.top_k);
  const at::Tensor objective = c.aux_loss_coef * load_balancing_sum(r, 3) / static_cast<double>(c.layers * 3);
  const at::Tensor by_hand = torch::autograd::grad({objective}, {moe->router->weight})[0];
  INFO("largest difference " << (via_block - by_hand).abs().max().item<double>() << " of "
                             << by_hand.abs().max().item<double>());
  CHECK(at::allclose(via_block, by_hand, 1e-4, 1e-9));
  // The step's figures: every token counted once per layer, and the aux sum.
  const at::Tensor taken = MoeStats::instance().take(c.layers, c.experts, y);
  CHECK(taken.narrow(0, c.experts, c.experts).sum().item<double>() == Approx(15.0 * static_cast<double>(c.top_k)));
  CHECK(taken.narrow(0, 0, c.experts).sum().item<double>() == 0);  // layer 0 did not run
  CHECK(taken[c.layers * c.experts].item<double>() == Approx(load_balancing_sum(r, 3).item<double>()));
  set_aux_loss_scale(1.0);
}

TEST_CASE("bad mixtures of experts are usage errors naming the numbers") {
  ModelConfig c = find_model("tiny_moe");
  c.top_k = 9;
  CHECK_THROWS_WITH(validate_model(c), Catch::Contains("--top-k 9 with 8 experts"));
  c = find_model("tiny_gpt");
  c.experts = 4;
  c.top_k = 2;
  CHECK_THROWS_AS(validate_model(c), UsageError);
}
