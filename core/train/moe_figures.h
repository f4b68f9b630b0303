// A mixture of experts' figures per step (core/layers/moe_aux.h collects them during the
// step): the load-balancing loss as the objective adds it, how evenly the experts were used,
// and the time spent sending tokens to experts and back.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

#include "core/model/config.h"

namespace dtbench {

class Communicator;

struct MoeStep {
  double aux_loss = 0;  // coefficient x the per-sequence loss averaged over layers and the global batch
  // Tokens each expert of each layer received over the global batch: the fewest, the most,
  // and the coefficient of variation (standard deviation / mean; 0 when perfectly even).
  double tokens_min = 0, tokens_max = 0, tokens_cv = 0;
  double imbalance = 0;  // the most / the mean: 1 when even
};

// Collective over `world`: this step's figures (every rank gets them).
MoeStep moe_step(const ModelConfig& c, Communicator& world, int64_t global_sequences, at::Device device);

// The record's metrics.moe: the shape, the medians of the measured steps and the
// all-to-all share of the step time.
nlohmann::json moe_metrics(const ModelConfig& c, const std::vector<MoeStep>& steps, double all_to_all_share);

}  // namespace dtbench
