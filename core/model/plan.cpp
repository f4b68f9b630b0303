#include "core/model/plan.h"

#include <fmt/format.h>

#include "core/report/errors.h"

namespace dtbench {

namespace {
std::string gib(int64_t bytes) { return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1LL << 30)); }
}  // namespace

void validate_layout(const ModelConfig& c, const ParallelLayout& l) {
  DT_USAGE(l.dp >= 1 && l.tp >= 1 && l.pp >= 1, "--dp {} --tp {} --pp {}: each must be at least 1", l.dp, l.tp, l.pp);
  DT_USAGE(c.heads % l.tp == 0 && c.kv_heads % l.tp == 0,
           "--tp {}: must divide the {} attention heads and {} kv heads of {}", l.tp, c.heads, c.kv_heads, c.name);
  DT_USAGE(c.ffn % l.tp == 0, "--tp {}: must divide the MLP width {} of {}", l.tp, c.ffn, c.name);
  DT_USAGE(c.layers % l.pp == 0, "--pp {}: must divide the {} layers of {}", l.pp, c.layers, c.name);
  validate_expert_parallel(c, l.ep);
  DT_USAGE(l.dp % l.ep == 0, "--ep {}: must divide the data-parallel size {} (expert groups are made of replicas)",
           l.ep, l.dp);
  DT_USAGE(l.micro_batch >= 1, "--micro-batch {}: must be at least 1", l.micro_batch);
  DT_USAGE(l.seq >= 1, "--seq {}: must be at least 1", l.seq);
  DT_USAGE(c.rope || l.seq <= c.seq, "--seq {}: {} has learned positions for at most {} tokens", l.seq, c.name, c.seq);
}

void validate_expert_parallel(const ModelConfig& c, int64_t ep) {
  DT_USAGE(ep >= 1 && (ep == 1 || c.moe()), "--ep {}: expert parallelism needs a mixture of experts; {} is dense", ep,
           c.name);
  DT_USAGE(!c.moe() || c.experts % ep == 0, "--ep {}: must divide the {} experts of {}", ep, c.experts, c.name);
}

nlohmann::json plan_json(const ModelConfig& c, const ParallelLayout& l) {
  const MemoryEstimate m = memory_per_rank(c, l);
  return {{"model", c.name},
          {"parameters", parameter_count(c)},
          {"active_parameters", active_parameter_count(c)},
          {"flops_per_token", flops_per_token(c, l.seq)},
          {"layout",
           {{"dp", l.dp},
            {"tp", l.tp},
            {"pp", l.pp},
            {"ep", l.ep},
            {"sharded", l.shard_params},
            {"micro_batch", l.micro_batch},
            {"seq", l.seq},
            {"activation_checkpointing", l.activation_checkpointing},
            {"dtype", l.bf16 ? "bf16" : "fp32"},
            {"sp", l.sp},
            {"vp", l.vp},
            {"shard_group", l.shard_group},
            {"accumulation", l.accumulation}}},
          {"memory_per_rank_bytes",
           {{"params", m.params},
            {"grads", m.grads},
            {"optimizer", m.optimizer},
            {"activations", m.activations},
            {"total", m.total()}}}};
}

std::string describe_plan(const ModelConfig& c, const ParallelLayout& l) {
  const MemoryEstimate m = memory_per_rank(c, l);
  std::string out;
  out += fmt::format("model          {} ({}; {})\n", c.name, c.family, c.source);
  out += fmt::format("shape          hidden {} layers {} heads {} kv-heads {} ffn {} vocab {} seq {}{}\n", c.hidden,
                     c.layers, c.heads, c.kv_heads, c.ffn, c.vocab, l.seq,
                     c.moe() ? fmt::format(" experts {} top-k {}", c.experts, c.top_k) : "");
  out +=
      fmt::format("parameters     {} ({:.3f} B)\n", parameter_count(c), static_cast<double>(parameter_count(c)) / 1e9);
  if (c.moe())
    out += fmt::format("active params  {} ({:.3f} B per token: {} of {} experts, the router, embeddings and head)\n",
                       active_parameter_count(c), static_cast<double>(active_parameter_count(c)) / 1e9, c.top_k,
                       c.experts);
  out +=
      fmt::format("flops/token    {:.4e} (forward + backward, causal attention at half)\n", flops_per_token(c, l.seq));
  out += fmt::format("layout         dp {} tp {} pp {}{}{}, micro-batch {}, {}{}\n", l.dp, l.tp, l.pp,
                     l.ep > 1 ? fmt::format(" ep {}", l.ep) : "", l.shard_params ? " (sharded)" : "", l.micro_batch,
                     l.bf16 ? "bf16" : "fp32", l.activation_checkpointing ? ", activation checkpointing" : "");
  out += fmt::format("memory/rank    params {}  grads {}  optimizer {}  activations {}  total {} (estimate)\n",
                     gib(m.params), gib(m.grads), gib(m.optimizer), gib(m.activations), gib(m.total()));
  return out;
}

}  // namespace dtbench
