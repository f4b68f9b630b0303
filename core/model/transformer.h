// The decoder-only transformer: Llama (RMSNorm, RoPE, grouped-query attention, SwiGLU,
// untied head) and GPT (LayerNorm, learned positions, GELU, tied head, biases) from one
// ModelConfig, built from the layers in core/layers. Parallel strategies wrap it; it never
// calls a collective itself.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>

#include "core/layers/embedding.h"
#include "core/layers/linear.h"
#include "core/layers/norm.h"
#include "core/layers/tensor_parallel.h"
#include "core/layers/block_runner.h"
#include "core/model/config.h"
#include "core/model/mlp.h"
#include "core/model/moe.h"
#include "core/model/rope.h"

namespace dtbench {

// With tensor parallelism q, k, v are column-parallel (a block of heads each) and o is
// row-parallel; likewise the MLP's up/gate and down.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& c, const TensorParallel& tp);
  at::Tensor forward(const at::Tensor& x, const RopeTables* rope);
  Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};

 private:
  int64_t heads_, kv_heads_, head_dim_;  // this rank's heads
  TensorParallel tp_;
};
TORCH_MODULE(Attention);

// A mixture-of-experts model's blocks hold `moe` in place of `mlp`; `layer` is the block's
// index in the whole model (the MoE statistics are kept per layer).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const ModelConfig& c, const TensorParallel& tp, const ExpertParallel& ep, int64_t layer);
  at::Tensor forward(const at::Tensor& x, const RopeTables* rope);
  Norm attn_norm{nullptr}, mlp_norm{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
  Moe moe{nullptr};
};
TORCH_MODULE(Block);

// Which part of the model a rank holds (pipeline parallelism): blocks [first_layer,
// first_layer + layers), the embedding on the first stage, the final norm and head on the
// last (with tied embeddings the last stage also holds a copy of the embedding for its
// head). Parameter names stay those of the whole model (global_name).
struct ModelPart {
  int64_t first_layer = 0, layers = -1;  // -1: all
  bool first = true, last = true;
};

class TransformerImpl : public torch::nn::Module {
 public:
  // `tp`: the tensor-parallel group (none: the plain model). With sequence parallelism the
  // sequence must divide by its size. `ep`: the expert-parallel group of a mixture of
  // experts (none: every expert here).
  explicit TransformerImpl(const ModelConfig& c, const TensorParallel& tp = {}, const ModelPart& part = {},
                           const ExpertParallel& ep = {});
  // ids [batch, seq] -> logits [batch, seq, vocab]
  at::Tensor forward(const at::Tensor& ids);
  // batch [b, seq + 1] (inputs then next-token targets): the summed token cross-entropy in
  // fp32. Divide by the global batch's token count for the token-weighted mean.
  at::Tensor loss_sum(const at::Tensor& batch);

  // The parts, for pipeline stages: first stage embed_tokens, every stage run_blocks, last
  // stage head_loss_sum (targets [b, t]).
  at::Tensor embed_tokens(const at::Tensor& ids);
  at::Tensor run_blocks(at::Tensor x);
  at::Tensor head_loss_sum(const at::Tensor& x, const at::Tensor& targets);
  const ModelPart& part() const { return part_; }
  // "blocks.<k>.…" of this part as the whole model names it ("blocks.<first_layer + k>.…").
  std::string global_name(const std::string& name) const;
  const ModelConfig& config() const { return config_; }
  const TensorParallel& tensor_parallel() const { return tp_; }
  // How each parameter (by name) is split over the tensor-parallel group.
  const std::map<std::string, Sharding>& shardings() const { return shardings_; }

  // Recompute each block's activations in backward instead of keeping them.
  bool activation_checkpointing = false;
  // When set, the units run through it (a strategy such as FSDP), which then also owns
  // activation checkpointing.
  BlockRunner* block_runner = nullptr;
  // The modules of each unit a BlockRunner runs, in forward order: every block, then, on the
  // last stage of a model with an untied head, the head unit (final norm and output layer),
  // whose index is the number of blocks. Parameters in none of them (the embeddings, a tied
  // head) are used outside the runner.
  std::vector<RunnerUnit> runner_units();
  // Whether the head runs through the BlockRunner as the last unit.
  bool head_is_unit() const { return block_runner != nullptr && head; }

  Embedding embed{nullptr}, pos{nullptr};  // pos: learned positions (GPT) only
  torch::nn::ModuleList blocks{nullptr};
  Norm norm{nullptr};
  Linear head{nullptr};  // absent when tied to embed

 private:
  at::Tensor head_logits(const at::Tensor& x);
  ModelConfig config_;
  TensorParallel tp_;
  ModelPart part_;
  RopeTables rope_;
  std::map<std::string, Sharding> shardings_;
};
TORCH_MODULE(Transformer);

// normal(0, 0.02) everywhere, output projections (attn.o, mlp.down, experts' down) 0.02 / sqrt(2 L), norms
// one, biases zero; each parameter a pure function of (seed, its name, element index), so a
// tensor-parallel rank draws exactly its block of the whole.
void initialize_parameters(TransformerImpl& model, uint64_t seed);

// The same values for elements [start, start + values.numel()) of parameter `name`
// flattened, into the 1-D `values`: what a rank holding only a shard materialises.
void initialize_parameter_slice(const ModelConfig& c, uint64_t seed, const std::string& name, const at::Tensor& values,
                                int64_t start);

}  // namespace dtbench
