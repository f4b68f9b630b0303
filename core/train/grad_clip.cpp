#include "core/train/grad_clip.h"

#include <ATen/ATen.h>

#include <cmath>

#include "core/comm/communicator.h"

namespace dtbench {

double local_grad_sq(const std::vector<at::Tensor>& grads) {
  // Each norm in fp64 without an fp64 copy of the gradient; summed where the gradients live,
  // so a GPU waits for the host once per step, not once per tensor.
  std::vector<at::Tensor> norms;
  for (const auto& g : grads)
    if (g.defined() && g.numel() > 0) norms.push_back(at::linalg_vector_norm(g, 2, c10::nullopt, false, at::kDouble));
  if (norms.empty()) return 0;
  return at::stack(norms).square().sum().item<double>();
}

double global_grad_norm(double local_sq, Communicator* comm) {
  if (comm && comm->size() > 1) {
    at::Tensor t = at::full({1}, local_sq, at::TensorOptions().dtype(at::kDouble).device(comm->device()));
    comm->all_reduce(t)->wait();
    local_sq = t.cpu().item<double>();
  }
  return std::sqrt(local_sq);
}

double clip_grads(const std::vector<at::Tensor>& grads, double norm, double max_norm) {
  if (max_norm <= 0) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    at::NoGradGuard no_grad;
    for (const auto& g : grads)
      if (g.defined()) g.mul_(coef);
  }
  return norm;
}

}  // namespace dtbench
