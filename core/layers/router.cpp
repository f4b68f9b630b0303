#include "core/layers/router.h"

#include <ATen/ATen.h>

namespace dtbench {

Routing route(const at::Tensor& logits, int64_t k) {
  Routing r;
  r.probs = at::softmax(logits, -1);
  auto [sorted, order] = at::sort(r.probs, /*stable=*/true, /*dim=*/-1, /*descending=*/true);
  r.experts = order.narrow(-1, 0, k).contiguous();
  const at::Tensor top = sorted.narrow(-1, 0, k);
  r.weights = top / top.sum(-1, /*keepdim=*/true);
  return r;
}

at::Tensor load_balancing_sum(const Routing& r, int64_t sequences) {
  const int64_t E = r.probs.size(-1), k = r.experts.size(-1);
  const int64_t t = r.probs.size(0) / sequences;
  const at::Tensor chosen = r.experts.reshape({sequences, t * k});
  at::Tensor f = at::zeros({sequences, E}, r.probs.options().requires_grad(false));
  f.scatter_add_(1, chosen, at::ones(chosen.sizes(), f.options()));
  f.div_(static_cast<double>(t));
  const at::Tensor P = r.probs.reshape({sequences, t, E}).mean(1);
  return (f * P).sum() * static_cast<double>(E);
}

at::Tensor expert_counts(const Routing& r, int64_t experts) {
  return at::bincount(r.experts.reshape({-1}), {}, experts);
}

}  // namespace dtbench
