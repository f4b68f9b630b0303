#include "core/train/moe_figures.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "core/comm/communicator.h"
#include "core/layers/moe_aux.h"
#include "core/report/stats.h"

namespace dtbench {

MoeStep moe_step(const ModelConfig& c, Communicator& world, int64_t global_sequences, at::Device device) {
  const at::Tensor like = at::empty({0}, at::TensorOptions().device(device));
  at::Tensor all = MoeStats::instance().take(c.layers, c.experts, like);
  world.all_reduce(all)->wait();
  const at::Tensor host = all.cpu();
  const double* v = host.data_ptr<double>();
  const int64_t n = c.layers * c.experts;
  MoeStep s;
  s.aux_loss = c.aux_loss_coef * v[n] / static_cast<double>(c.layers * global_sequences);
  double sum = 0, sq = 0;
  s.tokens_min = v[0];
  s.tokens_max = v[0];
  for (int64_t i = 0; i < n; ++i) {
    s.tokens_min = std::min(s.tokens_min, v[i]);
    s.tokens_max = std::max(s.tokens_max, v[i]);
    sum += v[i];
  }
  const double mean = sum / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) sq += (v[i] - mean) * (v[i] - mean);
  s.tokens_cv = mean > 0 ? std::sqrt(sq / static_cast<double>(n)) / mean : 0;
  s.imbalance = mean > 0 ? s.tokens_max / mean : 0;
  return s;
}

nlohmann::json moe_metrics(const ModelConfig& c, const std::vector<MoeStep>& steps, double all_to_all_share) {
  auto median = [&](double MoeStep::*field) {
    std::vector<double> x;
    for (const MoeStep& s : steps) x.push_back(s.*field);
    return x.empty() ? 0.0 : summarize(x).median;
  };
  return {{"experts", c.experts},
          {"top_k", c.top_k},
          {"aux_loss_coef", c.aux_loss_coef},
          {"aux_loss_first", steps.empty() ? 0.0 : steps.front().aux_loss},
          {"aux_loss_last", steps.empty() ? 0.0 : steps.back().aux_loss},
          {"tokens_per_expert",
           {{"min", median(&MoeStep::tokens_min)},
            {"max", median(&MoeStep::tokens_max)},
            {"cv", median(&MoeStep::tokens_cv)}}},
          {"imbalance", median(&MoeStep::imbalance)},
          {"all_to_all_share", all_to_all_share}};
}

}  // namespace dtbench
