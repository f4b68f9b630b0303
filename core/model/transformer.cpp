#include "core/model/transformer.h"

#include <cmath>

#include "core/model/init.h"
#include "core/model/recompute.h"
#include "core/report/errors.h"
#include "core/report/span.h"
#include "kernels/dispatch.h"

namespace dtbench {

AttentionImpl::AttentionImpl(const ModelConfig& c, const TensorParallel& tp)
    : heads_(c.heads / tp.size()), kv_heads_(c.kv_heads / tp.size()), head_dim_(c.head_dim()), tp_(tp) {
  q = register_module("q", Linear(c.hidden, c.heads * head_dim_, c.bias, Split::kColumn, tp));
  k = register_module("k", Linear(c.hidden, c.kv_heads * head_dim_, c.bias, Split::kColumn, tp));
  v = register_module("v", Linear(c.hidden, c.kv_heads * head_dim_, c.bias, Split::kColumn, tp));
  o = register_module("o", Linear(c.heads * head_dim_, c.hidden, c.bias, Split::kRow, tp));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x_in, const RopeTables* rope) {
  const at::Tensor x = enter_parallel_region(x_in, tp_);  // the whole sequence
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
  y = o(y.transpose(1, 2).reshape({b, t, heads_ * head_dim_}));
  return o->add_bias(exit_parallel_region(y, tp_));
}

BlockImpl::BlockImpl(const ModelConfig& c, const TensorParallel& tp, const ExpertParallel& ep, int64_t layer) {
  attn_norm = register_module("attn_norm", Norm(c.hidden, c.rmsnorm, c.norm_eps));
  attn = register_module("attn", Attention(c, tp));
  mlp_norm = register_module("mlp_norm", Norm(c.hidden, c.rmsnorm, c.norm_eps));
  if (c.moe())
    moe = register_module("moe", Moe(c, tp, ep, layer));
  else
    mlp = register_module("mlp", Mlp(c, tp));
}

at::Tensor BlockImpl::forward(const at::Tensor& x, const RopeTables* rope) {
  at::Tensor h = x + attn(attn_norm(x), rope);
  const at::Tensor y = mlp_norm(h);
  if (moe) return h + moe(y);
  const Span span("mlp");
  return h + mlp(y);
}

TransformerImpl::TransformerImpl(const ModelConfig& c, const TensorParallel& tp, const ModelPart& part,
                                 const ExpertParallel& ep)
    : config_(c), tp_(tp), part_(part) {
  if (part_.layers < 0) part_.layers = c.layers - part_.first_layer;
  if (part_.first || (part_.last && c.tied_embeddings))
    embed = register_module("embed", Embedding(c.vocab, c.hidden, tp));
  if (!c.rope && part_.first) pos = register_module("pos", Embedding(c.seq, c.hidden));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < part_.layers; ++i) blocks->push_back(Block(c, tp, ep, part_.first_layer + i));
  if (part_.last) {
    norm = register_module("norm", Norm(c.hidden, c.rmsnorm, c.norm_eps));
    if (!c.tied_embeddings)
      head = register_module("head", Linear(c.hidden, c.vocab_padded(tp.size()), false, Split::kColumn, tp));
  }
  if (c.rope) rope_ = rope_tables(c, c.seq, at::kCPU);
  // Every parameter's split, by name (replicated unless a layer says otherwise).
  for (auto& item : named_parameters()) shardings_[item.key()] = Sharding{-1, item.value().sizes().vec(), 0};
  for (auto& m : named_modules("", /*include_self=*/false)) {
    const std::string prefix = m.key() + ".";
    if (auto* l = dynamic_cast<LinearImpl*>(m.value().get())) {
      shardings_[prefix + "weight"] = l->weight_sharding;
      if (l->bias.defined()) shardings_[prefix + "bias"] = l->bias_sharding;
    } else if (auto* e = dynamic_cast<EmbeddingImpl*>(m.value().get())) {
      shardings_[prefix + "weight"] = e->weight_sharding;
    }
  }
}

std::string TransformerImpl::global_name(const std::string& name) const {
  const std::string head = "blocks.";
  if (part_.first_layer == 0 || name.compare(0, head.size(), head) != 0) return name;
  const std::size_t dot = name.find('.', head.size());
  const int64_t k = std::stoll(name.substr(head.size(), dot - head.size()));
  return head + std::to_string(part_.first_layer + k) + name.substr(dot);
}

at::Tensor TransformerImpl::embed_tokens(const at::Tensor& ids) {
  const int64_t t = ids.size(1);
  const int64_t n = tp_.sequence_parallel ? tp_.size() : 1;
  DT_CHECK(t % n == 0, "sequence {} does not split over {} sequence-parallel ranks", t, n);
  // The embedding's partial sums complete on the way out (a sequence chunk each with SP).
  at::Tensor x = exit_parallel_region(embed(ids), tp_);
  if (pos) x = x + pos(at::arange(tp_.rank() % n * (t / n), tp_.rank() % n * (t / n) + t / n, ids.options()));
  return x;
}

at::Tensor TransformerImpl::run_blocks(at::Tensor x) {
  const int64_t t = x.size(1) * (tp_.sequence_parallel ? tp_.size() : 1);  // the whole sequence
  if (config_.rope && (rope_.cos.size(0) < t || rope_.cos.device() != x.device()))
    rope_ = rope_tables(config_, std::max(t, config_.seq), x.device());
  const RopeTables* rope = config_.rope ? &rope_ : nullptr;
  const bool recompute = activation_checkpointing && at::GradMode::is_enabled();
  for (std::size_t i = 0; i < blocks->size(); ++i) {
    BlockImpl* block = blocks[i]->as<BlockImpl>();
    if (block_runner)
      x = block_runner->run(
          static_cast<int64_t>(i), [block, rope](const at::Tensor& in) { return block->forward(in, rope); }, x);
    else
      x = recompute ? checkpointed_block(*block, x, rope) : block->forward(x, rope);
  }
  return x;
}

std::vector<RunnerUnit> TransformerImpl::runner_units() {
  std::vector<RunnerUnit> units;
  for (auto& b : *blocks) units.push_back({{b.get()}, true});
  if (part_.last && head) units.push_back({{norm.get(), head.get()}, false});
  return units;
}

at::Tensor TransformerImpl::head_logits(const at::Tensor& x) {
  auto logits = [this](const at::Tensor& in) {
    const at::Tensor y = enter_parallel_region(norm(in), tp_);  // the whole sequence, this rank's vocabulary
    return head ? head(y) : at::linear(y, embed->weight);
  };
  if (head_is_unit()) return block_runner->run(static_cast<int64_t>(blocks->size()), logits, x);
  return logits(x);
}

at::Tensor TransformerImpl::forward(const at::Tensor& ids) { return head_logits(run_blocks(embed_tokens(ids))); }

at::Tensor TransformerImpl::head_loss_sum(const at::Tensor& x, const at::Tensor& targets) {
  const at::Tensor logits = head_logits(x);
  // On GPU, the fused loss takes the logits in their own dtype and keeps no probabilities.
  if (tp_.size() == 1 && logits.size(-1) == config_.vocab && kernels::use_for(logits))
    return kernels::fused_cross_entropy_sum(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}));
  const at::Tensor flat = logits.reshape({-1, logits.size(-1)}).to(at::kFloat);
  if (tp_.size() == 1 && logits.size(-1) == config_.vocab)
    return at::cross_entropy_loss(flat, targets.reshape({-1}), {}, at::Reduction::Sum);
  return vocab_parallel_cross_entropy_sum(flat, targets.reshape({-1}), tp_.rank() * logits.size(-1), config_.vocab,
                                          tp_);
}

at::Tensor TransformerImpl::loss_sum(const at::Tensor& batch) {
  const int64_t t = batch.size(1) - 1;
  return head_loss_sum(run_blocks(embed_tokens(batch.narrow(1, 0, t))), batch.narrow(1, 1, t));
}

namespace {

// How parameter `name` starts: ones (norm weights), zeros (biases) or normal(0, std).
struct InitRule {
  enum Kind { kOnes, kZeros, kNormal } kind;
  double std;
};

InitRule init_rule(const ModelConfig& c, const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (name.find("norm") != std::string::npos) return {ends_with(".bias") ? InitRule::kZeros : InitRule::kOnes, 0};
  if (ends_with(".bias")) return {InitRule::kZeros, 0};
  const bool output = ends_with("attn.o.weight") || ends_with("down.weight");  // the MLP's or an expert's
  return {InitRule::kNormal, output ? 0.02 / std::sqrt(2.0 * static_cast<double>(c.layers)) : 0.02};
}

// `values` drawn on the CPU in fp32/fp64 (Philox, as every other rank draws it) by `draw`,
// then copied where they belong.
template <typename Draw>
void fill_normal(const at::Tensor& values, Draw draw) {
  const bool direct = values.device().is_cpu() && values.is_contiguous() &&
                      (values.scalar_type() == at::kFloat || values.scalar_type() == at::kDouble);
  at::Tensor drawn = direct ? values : at::empty(values.sizes(), at::TensorOptions().dtype(at::kFloat));
  draw(drawn);
  if (!drawn.is_same(values)) values.copy_(drawn);
}

}  // namespace

void initialize_parameter_slice(const ModelConfig& c, uint64_t seed, const std::string& name, const at::Tensor& values,
                                int64_t start) {
  at::NoGradGuard no_grad;
  const InitRule rule = init_rule(c, name);
  if (rule.kind != InitRule::kNormal) {
    values.fill_(rule.kind == InitRule::kOnes ? 1.0 : 0.0);
    return;
  }
  fill_normal(values, [&](at::Tensor& out) { init_normal_slice(out, seed, name, start, rule.std); });
}

void initialize_parameters(TransformerImpl& model, uint64_t seed) {
  at::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    at::Tensor p = item.value();
    const Sharding& s = model.shardings().at(item.key());
    const std::string name = model.global_name(item.key());
    at::Tensor values = at::empty(p.sizes(), p.options().dtype(at::kFloat));
    if (s.dim == 1) {  // a block of columns (row-parallel weights): strided in the whole
      const InitRule rule = init_rule(model.config(), name);
      DT_CHECK(rule.kind == InitRule::kNormal, "{}: only weights split by columns", name);
      init_normal_block(values, seed, name, s.shape[1], 0, s.offset, rule.std);
    } else {  // whole, or a block of rows: contiguous in the whole
      const int64_t row = p.dim() > 0 && p.size(0) > 0 ? p.numel() / p.size(0) : 0;
      initialize_parameter_slice(model.config(), seed, name, values.view({-1}), s.dim == 0 ? s.offset * row : 0);
    }
    p.copy_(values);
  }
}

}  // namespace dtbench
