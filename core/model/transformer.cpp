#include "core/model/transformer.h"

#include <cmath>

#include "core/model/init.h"
#include "core/model/recompute.h"

namespace dtbench {

AttentionImpl::AttentionImpl(const ModelConfig& c)
    : heads_(c.heads), kv_heads_(c.kv_heads), head_dim_(c.head_dim()) {
  q = register_module("q", Linear(c.hidden, c.heads * head_dim_, c.bias));
  k = register_module("k", Linear(c.hidden, c.kv_heads * head_dim_, c.bias));
  v = register_module("v", Linear(c.hidden, c.kv_heads * head_dim_, c.bias));
  o = register_module("o", Linear(c.heads * head_dim_, c.hidden, c.bias));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const RopeTables* rope) {
  const int64_t b = x.size(0), t = x.size(1);
  at::Tensor qh = q(x).view({b, t, heads_, head_dim_}).transpose(1, 2);
  at::Tensor kh = k(x).view({b, t, kv_heads_, head_dim_}).transpose(1, 2);
  at::Tensor vh = v(x).view({b, t, kv_heads_, head_dim_}).transpose(1, 2);
  if (rope) {
    qh = apply_rope(qh, *rope);
    kh = apply_rope(kh, *rope);
  }
  if (kv_heads_ != heads_) {  // grouped-query attention: each kv head serves heads/kv_heads query heads
    kh = kh.repeat_interleave(heads_ / kv_heads_, 1);
    vh = vh.repeat_interleave(heads_ / kv_heads_, 1);
  }
  at::Tensor y = at::scaled_dot_product_attention(qh, kh, vh, {}, 0.0, /*is_causal=*/true);
  return o(y.transpose(1, 2).reshape({b, t, heads_ * head_dim_}));
}

MlpImpl::MlpImpl(const ModelConfig& c) : swiglu_(c.swiglu) {
  up = register_module("up", Linear(c.hidden, c.ffn, c.bias));
  if (swiglu_) gate = register_module("gate", Linear(c.hidden, c.ffn, c.bias));
  down = register_module("down", Linear(c.ffn, c.hidden, c.bias));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) {
  if (swiglu_) return down(at::silu(gate(x)) * up(x));
  return down(at::gelu(up(x), "tanh"));
}

BlockImpl::BlockImpl(const ModelConfig& c) {
  attn_norm = register_module("attn_norm", Norm(c.hidden, c.rmsnorm, c.norm_eps));
  attn = register_module("attn", Attention(c));
  mlp_norm = register_module("mlp_norm", Norm(c.hidden, c.rmsnorm, c.norm_eps));
  mlp = register_module("mlp", Mlp(c));
}

at::Tensor BlockImpl::forward(const at::Tensor& x, const RopeTables* rope) {
  at::Tensor h = x + attn(attn_norm(x), rope);
  return h + mlp(mlp_norm(h));
}

TransformerImpl::TransformerImpl(const ModelConfig& c) : config_(c) {
  validate_model(c);
  embed = register_module("embed", Embedding(c.vocab, c.hidden));
  if (!c.rope) pos = register_module("pos", Embedding(c.seq, c.hidden));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.layers; ++i) blocks->push_back(Block(c));
  norm = register_module("norm", Norm(c.hidden, c.rmsnorm, c.norm_eps));
  if (!c.tied_embeddings) head = register_module("head", Linear(c.hidden, c.vocab, false));
  if (c.rope) rope_ = rope_tables(c, c.seq, at::kCPU);
}

at::Tensor TransformerImpl::forward(const at::Tensor& ids) {
  const int64_t t = ids.size(1);
  at::Tensor x = embed(ids);
  if (pos) x = x + pos(at::arange(t, ids.options()));
  if (config_.rope && (rope_.cos.size(0) < t || rope_.cos.device() != x.device()))
    rope_ = rope_tables(config_, std::max(t, config_.seq), x.device());
  const RopeTables* rope = config_.rope ? &rope_ : nullptr;
  const bool recompute = activation_checkpointing && at::GradMode::is_enabled();
  for (std::size_t i = 0; i < blocks->size(); ++i) {
    BlockImpl* block = blocks[i]->as<BlockImpl>();
    if (block_runner)
      x = block_runner->run(static_cast<int64_t>(i), *block,
                            [block, rope](const at::Tensor& in) { return block->forward(in, rope); }, x);
    else
      x = recompute ? checkpointed_block(*block, x, rope) : block->forward(x, rope);
  }
  x = norm(x);
  return head ? head(x) : at::linear(x, embed->weight);
}

at::Tensor TransformerImpl::loss_sum(const at::Tensor& batch) {
  const int64_t t = batch.size(1) - 1;
  at::Tensor logits = forward(batch.narrow(1, 0, t));
  at::Tensor targets = batch.narrow(1, 1, t);
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}).to(at::kFloat), targets.reshape({-1}), {},
                                at::Reduction::Sum);
}

void initialize_parameter_slice(const ModelConfig& c, uint64_t seed, const std::string& name, at::Tensor values,
                                int64_t start) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  at::NoGradGuard no_grad;
  if (name.find("norm") != std::string::npos) {
    values.fill_(ends_with(".bias") ? 0.0 : 1.0);
  } else if (ends_with(".bias")) {
    values.zero_();
  } else {
    const bool output = ends_with("attn.o.weight") || ends_with("mlp.down.weight");
    const double std = output ? 0.02 / std::sqrt(2.0 * static_cast<double>(c.layers)) : 0.02;
    // Drawn on the CPU in fp32/fp64 (Philox, as every other rank draws it), then copied.
    const bool direct = values.device().is_cpu() && values.is_contiguous() &&
                        (values.scalar_type() == at::kFloat || values.scalar_type() == at::kDouble);
    at::Tensor drawn = direct ? values : at::empty(values.sizes(), at::TensorOptions().dtype(at::kFloat));
    init_normal_slice(drawn, seed, name, start, std);
    if (!drawn.is_same(values)) values.copy_(drawn);
  }
}

void initialize_parameters(TransformerImpl& model, uint64_t seed) {
  at::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    at::Tensor p = item.value();
    at::Tensor flat = at::empty({p.numel()}, p.options().dtype(at::kFloat));
    initialize_parameter_slice(model.config(), seed, item.key(), flat, 0);
    p.copy_(flat.view(p.sizes()));
  }
}

}  // namespace dtbench
