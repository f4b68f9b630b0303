// The model registry. Each entry names where its numbers come from.
#include <fmt/format.h>

#include "core/model/config.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {

// The fields every family sets.
ModelConfig shape(std::string name, std::string family, std::string source, int64_t h, int64_t layers, int64_t heads,
                  int64_t kv, int64_t ffn, int64_t vocab, int64_t seq) {
  ModelConfig c;
  c.name = std::move(name);
  c.family = std::move(family);
  c.source = std::move(source);
  c.hidden = h;
  c.layers = layers;
  c.heads = heads;
  c.kv_heads = kv;
  c.ffn = ffn;
  c.vocab = vocab;
  c.seq = seq;
  return c;
}

ModelConfig llama(std::string name, std::string source, int64_t h, int64_t layers, int64_t heads, int64_t kv,
                  int64_t ffn, int64_t vocab, int64_t seq, double theta, RopeScaling scaling = {}) {
  ModelConfig c = shape(std::move(name), "llama", std::move(source), h, layers, heads, kv, ffn, vocab, seq);
  c.rope_theta = theta;
  c.rope_scaling = scaling;
  return c;
}

// Meta's config.json "rope_scaling" of each release (low 1, high 4, original context 8192
// in both): Llama 3.1 8B/70B ("factor": 8.0) and Llama 3.2 1B/3B ("factor": 32.0).
constexpr RopeScaling kLlama31Rope{8.0, 1.0, 4.0, 8192};
constexpr RopeScaling kLlama32Rope{32.0, 1.0, 4.0, 8192};

// Llama 3.2 1B and 3B share the embedding with the output head.
ModelConfig tied(ModelConfig c) {
  c.tied_embeddings = true;
  return c;
}

// A mixture of experts: `experts` SwiGLU experts of width ffn per block, top-k routing.
ModelConfig moe(ModelConfig c, int64_t experts, int64_t top_k) {
  c.experts = experts;
  c.top_k = top_k;
  return c;
}

// Megatron-LM's GPT-3 table: GELU MLP of 4h, LayerNorm, learned positions, tied
// embeddings, biases; the GPT-2 vocabulary padded to 51200 as Megatron pads it.
ModelConfig gpt(std::string name, std::string source, int64_t h, int64_t layers, int64_t heads, int64_t vocab,
                int64_t seq) {
  ModelConfig c = shape(std::move(name), "gpt", std::move(source), h, layers, heads, heads, 4 * h, vocab, seq);
  c.swiglu = false;
  c.rmsnorm = false;
  c.rope = false;
  c.tied_embeddings = true;
  c.bias = true;
  return c;
}

std::vector<ModelConfig> build() {
  const std::string l2 = "Llama 2 paper (Touvron et al. 2023), table 1; AWS FSDP test case";
  const std::string l31 = "meta-llama/Llama-3.1-8B and -70B config.json; AWS FSDP test case";
  const std::string l32 = "meta-llama/Llama-3.2-1B and -3B config.json; AWS FSDP test case";
  const std::string mg = "Megatron-LM README, GPT-3 model table (heads/hidden/layers)";
  std::vector<ModelConfig> r = {
      llama("llama2_7b", l2, 4096, 32, 32, 32, 11008, 32000, 4096, 10000.0),
      llama("llama2_13b", l2, 5120, 40, 40, 40, 13824, 32000, 4096, 10000.0),
      llama("llama2_70b", l2, 8192, 80, 64, 8, 28672, 32000, 4096, 10000.0),
      llama("llama3_1_8b", l31, 4096, 32, 32, 8, 14336, 128256, 8192, 500000.0, kLlama31Rope),
      llama("llama3_1_70b", l31, 8192, 80, 64, 8, 28672, 128256, 8192, 500000.0, kLlama31Rope),
      tied(llama("llama3_2_1b", l32, 2048, 16, 32, 8, 8192, 128256, 8192, 500000.0, kLlama32Rope)),
      tied(llama("llama3_2_3b", l32, 3072, 28, 24, 8, 8192, 128256, 8192, 500000.0, kLlama32Rope)),
      llama("mathstral_7b", "Mathstral 7B config.json (Mistral AI); AWS FSDP test case", 4096, 32, 32, 8, 14336, 32768,
            8192, 1000000.0),
      moe(llama("mixtral_8x7b",
                "Mixtral-8x7B-v0.1 config.json (Mistral AI): 8 local experts, 2 per token; AWS FSDP test case "
                "(mistral_8x7b)",
                4096, 32, 32, 8, 14336, 32000, 32768, 1000000.0),
          8, 2),
      gpt("gpt2", "GPT-2 small (Radford et al. 2019): 124M", 768, 12, 12, 50257, 1024),
      gpt("gpt3_1_7b", mg, 2304, 24, 24, 51200, 2048),
      gpt("gpt3_3_6b", mg, 3072, 30, 32, 51200, 2048),
      gpt("gpt3_7_5b", mg, 4096, 36, 32, 51200, 2048),
      gpt("gpt3_18_4b", mg, 6144, 40, 48, 51200, 2048),
      gpt("gpt3_39_1b", mg, 8192, 48, 64, 51200, 2048),
      gpt("gpt3_76_1b", mg, 10240, 60, 80, 51200, 2048),
      gpt("gpt3_145_6b", mg, 12288, 80, 96, 51200, 2048),
      gpt("gpt3_310_1b", mg, 16384, 96, 128, 51200, 2048),
      // Small shapes for CPU work: byte-level vocabulary (tools/make_dataset's tokens).
      llama("tiny", "dtbench: CPU tests and the quickstart", 64, 2, 4, 2, 192, 256, 128, 10000.0),
      llama("small", "dtbench: CPU benchmarks where compute dominates", 256, 4, 8, 4, 704, 256, 256, 10000.0),
      gpt("tiny_gpt", "dtbench: CPU tests of the GPT family", 64, 2, 4, 256, 128),
      // 8 experts (ep 2 and 4 split them) of an odd width, 80.
      moe(llama("tiny_moe", "dtbench: CPU tests of mixtures of experts", 64, 2, 4, 2, 80, 256, 128, 10000.0), 8, 2),
  };
  return r;
}

}  // namespace

const std::vector<ModelConfig>& model_registry() {
  static const std::vector<ModelConfig> r = build();
  return r;
}

ModelConfig find_model(const std::string& name) {
  // Other names users know a model by: AWS's FSDP test case names Mixtral "mistral_8x7b".
  const std::string wanted = name == "mistral_8x7b" ? "mixtral_8x7b" : name;
  std::string names;
  for (const auto& c : model_registry()) {
    if (c.name == wanted) return c;
    names += (names.empty() ? "" : ", ") + c.name;
  }
  throw UsageError(fmt::format("--model {}: unknown model; choose one of {}", name, names));
}

void validate_model(const ModelConfig& c) {
  DT_USAGE(c.hidden > 0 && c.layers > 0 && c.heads > 0 && c.kv_heads > 0 && c.ffn > 0 && c.vocab > 0 && c.seq > 0,
           "model {}: hidden, layers, heads, kv-heads, ffn, vocab and seq must all be positive", c.name);
  // Bounds far above any published model, under which every count the arithmetic makes in
  // int64 (parameters, FLOPs per token, bytes per rank) is exact: parameters stay below 2^57
  // and FLOPs per token below 2^62. Above them a figure would wrap, not just be large.
  const struct {
    const char* flag;
    int64_t value, max;
  } bounds[] = {{"--hidden", c.hidden, int64_t{1} << 20}, {"--ffn", c.ffn, int64_t{1} << 22},
                {"--layers", c.layers, int64_t{1} << 12}, {"--heads", c.heads, c.hidden},
                {"--vocab", c.vocab, int64_t{1} << 24},   {"--seq", c.seq, int64_t{1} << 24}};
  for (const auto& b : bounds)
    DT_USAGE(b.value <= b.max, "model {}: {} {} is above {}, where the parameter and FLOP counts stay exact", c.name,
             b.flag, b.value, b.max);
  DT_USAGE(c.hidden % c.heads == 0, "model {}: --hidden {} is not a multiple of --heads {}; pick heads that divide it",
           c.name, c.hidden, c.heads);
  DT_USAGE(
      c.heads % c.kv_heads == 0,
      "model {}: --heads {} is not a multiple of --kv-heads {}; grouped-query attention needs kv-heads to divide heads",
      c.name, c.heads, c.kv_heads);
  DT_USAGE(c.experts >= 0 && c.experts <= 1024, "model {}: --experts {}: between 1 and 1024 for a mixture of experts",
           c.name, c.experts);
  DT_USAGE(!c.moe() || (c.top_k >= 1 && c.top_k <= c.experts),
           "model {}: --top-k {} with {} experts; each token needs between 1 and {} experts", c.name, c.top_k,
           c.experts, c.experts);
  DT_USAGE(!c.moe() || c.swiglu, "model {}: mixtures of experts are of SwiGLU experts (the llama family)", c.name);
  DT_USAGE(c.aux_loss_coef >= 0, "model {}: --aux-loss-coef {} is negative", c.name, c.aux_loss_coef);
  DT_USAGE(!c.rope || c.head_dim() % 2 == 0, "model {}: RoPE needs an even head size, got {} (= hidden / heads)",
           c.name, c.head_dim());
}

}  // namespace dtbench
