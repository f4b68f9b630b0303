// Parameter and FLOP arithmetic on a ModelConfig, without a model.
#include "core/model/config.h"
#include "core/model/gemms.h"

namespace dtbench {

namespace {

// Parameters with `experts` of a block's MLPs counted (all of them, or the active ones).
int64_t parameters_with(const ModelConfig& c, int64_t experts) {
  const int64_t h = c.hidden, kv = c.kv_heads * c.head_dim();
  const int64_t b = c.bias ? 1 : 0;
  const int64_t norm = c.rmsnorm ? h : 2 * h;               // weight (+ bias for LayerNorm)
  const int64_t attn = h * (h + 2 * kv) + b * (h + 2 * kv)  // q, k, v
                       + h * h + b * h;                     // output projection
  const int64_t mlp = c.swiglu ? 3 * h * c.ffn + b * (2 * c.ffn + h) : 2 * h * c.ffn + b * (c.ffn + h);
  const int64_t router = c.moe() ? h * c.experts : 0;
  const int64_t block = 2 * norm + attn + experts * mlp + router;
  const int64_t embed = c.vocab * h + (c.rope ? 0 : c.seq * h);  // tokens (+ learned positions)
  const int64_t head = c.tied_embeddings ? 0 : c.vocab * h;
  return embed + c.layers * block + norm + head;
}

}  // namespace

int64_t parameter_count(const ModelConfig& c) { return parameters_with(c, c.moe() ? c.experts : 1); }

int64_t active_parameter_count(const ModelConfig& c) { return parameters_with(c, c.moe() ? c.top_k : 1); }

std::vector<Gemm> block_gemms(const ModelConfig& c, int64_t micro_batch, int64_t seq, int64_t tp, int64_t ep) {
  const double T = static_cast<double>(micro_batch * seq), s = static_cast<double>(seq);
  const double mb = static_cast<double>(micro_batch), split = static_cast<double>(tp);
  const double h = static_cast<double>(c.hidden), d = static_cast<double>(c.head_dim());
  const double heads = static_cast<double>(c.heads) / split, kv = static_cast<double>(c.kv_heads) / split;
  const double ffn = static_cast<double>(c.ffn) / split;
  std::vector<Gemm> g = {{T, (heads + 2 * kv) * d, h, 1},
                         {T, h, heads * d, 1},
                         {s, s, d, 0.5 * mb * heads},   // q k^T
                         {s, d, s, 0.5 * mb * heads}};  // probabilities x v
  const double up = c.swiglu ? 2 : 1;                   // SwiGLU's gate and up; mixtures are SwiGLU (validate_model)
  if (c.moe()) {
    const double experts = static_cast<double>(c.experts), local = experts / static_cast<double>(ep);
    const double routed = T * static_cast<double>(c.top_k * ep) / experts;  // tokens per local expert
    g.push_back({T, experts, h, 1 / split});
    g.push_back({routed, ffn, h, up * local});
    g.push_back({routed, h, ffn, local});
  } else {
    g.push_back({T, ffn, h, up});
    g.push_back({T, h, ffn, 1});
  }
  return g;
}

Gemm head_gemm(const ModelConfig& c, int64_t micro_batch, int64_t seq, int64_t tp) {
  return {static_cast<double>(micro_batch * seq), static_cast<double>(c.vocab) / static_cast<double>(tp),
          static_cast<double>(c.hidden), 1};
}

double flops_of(const std::vector<Gemm>& gemms) {
  double f = 0;
  for (const Gemm& g : gemms) f += g.flops();
  return f;
}

double flops_per_token(const ModelConfig& c, int64_t seq) {
  const double forward =
      static_cast<double>(c.layers) * flops_of(block_gemms(c, 1, seq)) + head_gemm(c, 1, seq).flops();
  return 3.0 * forward / static_cast<double>(seq);  // backward: twice the forward
}

double activation_bytes_per_layer(const ModelConfig& c, const ParallelLayout& l) {
  const double s = static_cast<double>(l.seq > 0 ? l.seq : c.seq), b = static_cast<double>(l.micro_batch);
  const double h = static_cast<double>(c.hidden);
  const double width = l.bf16 ? 1.0 : 2.0;  // 34 sbh bytes is for 16-bit activations
  // Of Korthikanti's 34 sbh, 19 are the MLP's (at width 4h). A token of a mixture of experts
  // passes k experts of width ffn, its copies are dispatched and combined (2k sbh), and the
  // router keeps fp32 logits and probabilities (8 s b E bytes).
  double full_layer = 34.0 * s * b * h * width;
  if (c.moe()) {
    const double k = static_cast<double>(c.top_k), ffn = static_cast<double>(c.ffn);
    full_layer = (15.0 + 19.0 * k * ffn / (4.0 * h) + 2.0 * k) * s * b * h * width +
                 8.0 * s * b * static_cast<double>(c.experts) * static_cast<double>(l.tp);
  }
  return full_layer / static_cast<double>(l.tp);
}

MemoryEstimate memory_per_rank(const ModelConfig& c, const ParallelLayout& l) {
  MemoryEstimate m;
  const double model_split = static_cast<double>(l.tp * l.pp);
  // Sharded state is split over the shard group (all of dp, or a hybrid-sharding group).
  const double dp = static_cast<double>(l.shard_group > 0 ? l.shard_group : l.dp), ep = static_cast<double>(l.ep);
  // Experts are split over ep, then (sharded) over their dp / ep replicas: 1/dp of them
  // either way when sharded, 1/ep otherwise. Everything else is split over dp when sharded.
  const double p_all = static_cast<double>(parameter_count(c));
  const double p_experts = c.moe() ? static_cast<double>(c.layers * c.experts * (3 * c.hidden * c.ffn)) : 0.0;
  const double p_dense = p_all - p_experts;
  const double here = (p_dense / (l.shard_params ? dp : 1.0) + p_experts / (l.shard_params ? dp : ep)) / model_split;
  // Compute copies in bf16: with sharding only the units being used are whole (about two
  // blocks); without, the whole replica.
  const double block_params = (p_dense + p_experts / ep) / static_cast<double>(c.layers);
  const double replica = (p_dense + p_experts / ep) / model_split;
  const double bf16_copies = l.bf16 ? 2.0 * (l.shard_params ? 2.0 * block_params / model_split : replica) : 0.0;
  m.params = static_cast<int64_t>(4.0 * here + bf16_copies);
  m.grads = static_cast<int64_t>(4.0 * here);
  m.optimizer = static_cast<int64_t>(8.0 * here);

  const double s = static_cast<double>(l.seq > 0 ? l.seq : c.seq), b = static_cast<double>(l.micro_batch);
  const double h = static_cast<double>(c.hidden), V = static_cast<double>(c.vocab);
  const double layers_here = static_cast<double>(c.layers) / static_cast<double>(l.pp);
  const double full_layer = activation_bytes_per_layer(c, l);
  const double layer_input = s * b * h * (l.bf16 ? 2.0 : 4.0);
  const double blocks = l.activation_checkpointing ? layers_here * layer_input + full_layer : layers_here * full_layer;
  const double logits = 2.0 * s * b * V * 4.0 / static_cast<double>(l.tp);  // logits and their gradient, fp32
  m.activations = static_cast<int64_t>(blocks + logits);
  return m;
}

}  // namespace dtbench
