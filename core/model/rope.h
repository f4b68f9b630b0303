// Rotary position embedding, with Llama 3.1's frequency scaling where the config asks.
#pragma once

#include <ATen/ATen.h>

#include "core/model/config.h"

namespace dtbench {

struct RopeTables {
  at::Tensor cos, sin;  // [seq, head_dim], float32
};

// Inverse frequencies of the config's head size (Llama 3.1 scaling applied when set).
at::Tensor rope_inv_freq(const ModelConfig& c);

RopeTables rope_tables(const ModelConfig& c, int64_t seq, const at::Device& device);

// x: [batch, heads, seq, head_dim]; rotates pairs (i, i + d/2).
at::Tensor apply_rope(const at::Tensor& x, const RopeTables& t);

}  // namespace dtbench
