#include "core/model/moe.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <numeric>
#include <optional>

#include "core/layers/moe_aux.h"
#include "core/layers/router.h"
#include "core/report/errors.h"
#include "core/report/span.h"

namespace dtbench {

MoeImpl::MoeImpl(const ModelConfig& c, const TensorParallel& tp, const ExpertParallel& ep, int64_t layer)
    : experts_total_(c.experts),
      top_k_(c.top_k),
      layers_(c.layers),
      layer_(layer),
      coef_(c.aux_loss_coef),
      tp_(tp),
      ep_(ep) {
  DT_CHECK(c.experts % ep.size() == 0, "{} experts do not split over {} expert-parallel ranks", c.experts, ep.size());
  router = register_module("router", Linear(c.hidden, c.experts, false));
  auto holder = register_module("experts", std::make_shared<torch::nn::Module>());
  const int64_t local = c.experts / ep.size();
  for (int64_t e = ep.rank() * local; e < (ep.rank() + 1) * local; ++e)
    experts.push_back(holder->register_module(std::to_string(e), Mlp(c, tp)));
}

at::Tensor MoeImpl::run_local(const at::Tensor& rows, const std::vector<int64_t>& counts) {
  // Every expert runs, also on no rows, so that each has a gradient (zero) every step.
  std::vector<at::Tensor> outs;
  int64_t offset = 0;
  for (std::size_t e = 0; e < experts.size(); ++e) {
    outs.push_back(experts[e]->partial(rows.narrow(0, offset, counts[e])));
    offset += counts[e];
  }
  return at::cat(outs);
}

at::Tensor MoeImpl::run_experts(const at::Tensor& rows, const std::vector<int64_t>& counts) {
  if (ep_.size() == 1) return run_local(rows, counts);
  Communicator& comm = *ep_.comm;
  const int64_t n = ep_.size(), local = experts_total_ / n;
  // from[s·local + e]: rows rank s sends for this rank's expert e.
  const std::vector<int64_t> from = exchange_counts(counts, comm);
  std::vector<int64_t> send_rows(n, 0), recv_rows(n, 0), per_expert(local, 0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t e = 0; e < local; ++e) {
      send_rows[j] += counts[j * local + e];
      recv_rows[j] += from[j * local + e];
      per_expert[e] += from[j * local + e];
    }
  const at::Tensor got = exchange_rows(rows, send_rows, recv_rows, comm);  // by source, then expert
  // The same rows by expert, then source: the order run_local takes.
  std::vector<int64_t> order;
  order.reserve(got.size(0));
  for (int64_t e = 0; e < local; ++e) {
    int64_t start = 0;
    for (int64_t s = 0; s < n; ++s) {
      int64_t block = start;
      for (int64_t f = 0; f < e; ++f) block += from[s * local + f];
      for (int64_t i = 0; i < from[s * local + e]; ++i) order.push_back(block + i);
      start += recv_rows[s];
    }
  }
  const at::Tensor index = at::tensor(order, at::kLong).to(rows.device());
  const at::Tensor out = run_local(got.index_select(0, index), per_expert);
  // Back in arrival order, then to the ranks the rows came from.
  const at::Tensor arrival = at::zeros_like(out).index_copy(0, index, out);
  return exchange_rows(arrival, recv_rows, send_rows, comm);
}

at::Tensor MoeImpl::forward(const at::Tensor& x_in) {
  std::optional<Span> span(std::in_place, "moe route");
  const bool sp = tp_.sequence_parallel && tp_.size() > 1;
  const at::Tensor x = sp ? enter_parallel_region(x_in, tp_) : x_in;  // whole sequences
  const int64_t b = x.size(0), t = x.size(1), h = x.size(2), n = b * t;
  const at::Tensor flat = x.reshape({n, h});
  at::Tensor logits;
  {
    // The router in fp32, also under bf16 autocast: routing decides which weights a token
    // meets, and bf16 logits would tie and flip choices between layouts.
    const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    logits = at::linear(flat.to(at::kFloat), router->weight.to(at::kFloat));
  }
  const Routing r = route(logits, top_k_);
  const at::Tensor aux = load_balancing_sum(r, b);

  // The k choices of every token, sorted by expert (tokens in order within an expert).
  const at::Tensor chosen = r.experts.reshape({-1});
  const at::Tensor order = at::argsort(chosen, /*stable=*/true);
  const at::Tensor token_of = at::floor_divide(order, top_k_);
  const at::Tensor counts_t = expert_counts(r, experts_total_);
  // Each rank of a tensor-parallel group routes the same tokens: count them once.
  MoeStats::instance().record(layer_, counts_t, aux, 1.0 / static_cast<double>(tp_.size()));
  const at::Tensor counts_host = counts_t.cpu();
  const std::vector<int64_t> counts(counts_host.data_ptr<int64_t>(),
                                    counts_host.data_ptr<int64_t>() + counts_host.numel());

  span.emplace("moe experts");  // the dispatch, the experts and the way back
  const at::Tensor tokens = sp ? flat : enter_parallel_region(flat, tp_);
  at::Tensor out = run_experts(tokens.index_select(0, token_of), counts);
  if (!sp) out = exit_parallel_region(out, tp_);  // whole outputs, then weighted
  span.emplace("moe combine");
  const at::Tensor w = r.weights.reshape({-1}).index_select(0, order).unsqueeze(1).to(out.scalar_type());
  at::Tensor y = at::zeros({n, h}, out.options()).index_add(0, token_of, out * w).view({b, t, h});
  if (sp) y = exit_parallel_region(y, tp_);  // weighted partial sums, reduce-scattered
  span.reset();

  // d objective / d aux: the loss is divided as the language-model loss is (aux_loss_scale),
  // weighted by the coefficient, averaged over layers and sequences (the loop divides by
  // tokens, t per sequence); under sequence parallelism each rank of the group holds the
  // whole aux, whose gradients the group then sums.
  const double grad = coef_ * static_cast<double>(t) / static_cast<double>(layers_) * aux_loss_scale() /
                      static_cast<double>(sp ? tp_.size() : 1);
  return attach_aux_loss(y, aux, grad);
}

}  // namespace dtbench
