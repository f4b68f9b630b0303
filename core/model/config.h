// Transformer shapes: the config registry and the arithmetic on them (parameter count,
// model FLOPs per token, per-rank memory), all without allocating a model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dtbench {

// Llama 3's RoPE frequency rescaling (config.json "rope_scaling", "rope_type": "llama3"):
// wavelengths above original_context / low_freq_factor are slowed by `factor`, those below
// original_context / high_freq_factor kept, with a smooth ramp between. factor 0: none.
struct RopeScaling {
  double factor = 0, low_freq_factor = 1, high_freq_factor = 4;
  int64_t original_context = 8192;
};

struct ModelConfig {
  std::string name;
  std::string
      family;  // "llama" (RMSNorm, RoPE, SwiGLU, GQA, untied) or "gpt" (LayerNorm, learned positions, GELU, tied)
  std::string source;  // where the numbers come from
  int64_t hidden = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, vocab = 0;
  int64_t seq = 0;  // default (and, for learned positions, maximum) sequence length
  bool swiglu = true, rmsnorm = true, rope = true, tied_embeddings = false, bias = false;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  double norm_eps = 1e-5;
  // Mixture of experts (Mixtral): every block's MLP is `experts` SwiGLU experts of width
  // `ffn`, each token routed to `top_k` of them; 0 experts: a dense MLP.
  int64_t experts = 0, top_k = 0;
  // The load-balancing loss's weight (Switch Transformer's alpha, Fedus et al. 2021: 1e-2).
  double aux_loss_coef = 0.01;

  int64_t head_dim() const { return hidden / heads; }
  bool moe() const { return experts > 0; }
  // The vocabulary padded to a multiple of the tensor-parallel size (padding never counts).
  int64_t vocab_padded(int64_t tp) const { return (vocab + tp - 1) / tp * tp; }
};

// Every registered config, in a stable order.
const std::vector<ModelConfig>& model_registry();

// A copy of the registered config `name`; throws UsageError listing the names otherwise.
ModelConfig find_model(const std::string& name);

// Throws UsageError (exit 2) naming the first inconsistent field and the fix.
void validate_model(const ModelConfig& c);

// Parameters of the whole model (embeddings, blocks, final norm, head unless tied; every
// expert and the routers of a mixture of experts).
int64_t parameter_count(const ModelConfig& c);
// Those one token uses: a mixture of experts counts its top-k experts per block (and the
// router); a dense model all of them.
int64_t active_parameter_count(const ModelConfig& c);

// Pinned model FLOPs per token (docs/ARCHITECTURE.md): forward + backward, every GEMM, GQA-aware,
// SwiGLU = 3 matrices, the logits layer included, causal attention counted at half:
//   3 * [ L * (2h(h + 2*n_kv*d_head) + 2h^2 + 2*T*h + 2*m*h*ffn) + 2*h*V ],  m = 3 SwiGLU, 2 GELU.
// A mixture of experts' MLP term counts the k active experts and the router:
// 2*k*m*h*ffn + 2*h*E.
double flops_per_token(const ModelConfig& c, int64_t seq);

// A parallel layout as far as memory goes: how a rank holds the model (dp, tp, pp, sharded or
// not) and its share of a micro-batch. Built with designated initialisers.
struct ParallelLayout {
  int64_t dp = 1, tp = 1, pp = 1;
  int64_t ep = 1;             // expert parallelism: each rank holds experts / ep of every MoE block
  bool shard_params = false;  // ZeRO-3 / FSDP: parameters, gradients and optimizer state split over dp
  int64_t micro_batch = 1, seq = 0;
  bool activation_checkpointing = false;
  bool bf16 = false;  // bf16 compute copies and activations, fp32 master weights and reductions
  // What only the step-time predictor reads (core/predict): sequence parallelism, virtual
  // pipeline stages, the hybrid-sharding group (0: all of dp) and micro-steps per step.
  bool sp = false;
  int64_t vp = 1, shard_group = 0, accumulation = 1;
};

// Bytes per rank, estimated. Parameters are fp32 masters (plus bf16 compute copies in
// bf16), gradients fp32, AdamW state two fp32 moments. Activations per layer follow
// Korthikanti et al. (2022) with fused attention (no s^2 term): 34*s*b*h bytes at 16 bits
// (doubled in fp32), divided by tp; with activation checkpointing only each layer's input
// is kept, plus one layer recomputed at a time. The logits and their softmax (fp32) come
// on top, for the last pipeline stage.
struct MemoryEstimate {
  int64_t params = 0, grads = 0, optimizer = 0, activations = 0;
  int64_t total() const { return params + grads + optimizer + activations; }
};
MemoryEstimate memory_per_rank(const ModelConfig& c, const ParallelLayout& layout);

// One layer's activations kept for backward on one rank (the estimate above, before
// checkpointing): also what its elementwise work reads and writes, for the predictor.
double activation_bytes_per_layer(const ModelConfig& c, const ParallelLayout& layout);

}  // namespace dtbench
