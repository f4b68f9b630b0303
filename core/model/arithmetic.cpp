// Parameter and FLOP arithmetic on a ModelConfig, without a model.
#include "core/model/config.h"

namespace dtbench {

int64_t parameter_count(const ModelConfig& c) {
  const int64_t h = c.hidden, kv = c.kv_heads * c.head_dim();
  const int64_t b = c.bias ? 1 : 0;
  const int64_t norm = c.rmsnorm ? h : 2 * h;                       // weight (+ bias for LayerNorm)
  const int64_t attn = h * (h + 2 * kv) + b * (h + 2 * kv)          // q, k, v
                       + h * h + b * h;                             // output projection
  const int64_t mlp = c.swiglu ? 3 * h * c.ffn + b * (2 * c.ffn + h)
                               : 2 * h * c.ffn + b * (c.ffn + h);
  const int64_t block = 2 * norm + attn + mlp;
  const int64_t embed = c.vocab * h + (c.rope ? 0 : c.seq * h);    // tokens (+ learned positions)
  const int64_t head = c.tied_embeddings ? 0 : c.vocab * h;
  return embed + c.layers * block + norm + head;
}

double flops_per_token(const ModelConfig& c, int64_t seq) {
  const double h = static_cast<double>(c.hidden), L = static_cast<double>(c.layers);
  const double n_kv = static_cast<double>(c.kv_heads), d = static_cast<double>(c.head_dim());
  const double T = static_cast<double>(seq), V = static_cast<double>(c.vocab), ffn = static_cast<double>(c.ffn);
  const double m = c.swiglu ? 3.0 : 2.0;
  const double per_layer = 2 * h * (h + 2 * n_kv * d) + 2 * h * h + 2 * T * h + 2 * m * h * ffn;
  return 3.0 * (L * per_layer + 2 * h * V);
}

}  // namespace dtbench
