// Parameter counts against the published figures; the pinned FLOPs formula by hand.
#include <catch2/catch.hpp>

#include "core/model/config.h"
#include "core/model/gemms.h"
#include "core/report/errors.h"

using namespace dtbench;

TEST_CASE("parameter counts match the published models") {
  CHECK(parameter_count(find_model("llama2_7b")) == 6738415616LL);
  CHECK(parameter_count(find_model("llama2_13b")) == 13015864320LL);
  CHECK(parameter_count(find_model("llama2_70b")) == 68976648192LL);
  CHECK(parameter_count(find_model("llama3_1_8b")) == 8030261248LL);
  CHECK(parameter_count(find_model("llama3_1_70b")) == 70553706496LL);
  CHECK(parameter_count(find_model("llama3_2_1b")) == 1235814400LL);
  CHECK(parameter_count(find_model("llama3_2_3b")) == 3212749824LL);
  CHECK(parameter_count(find_model("mathstral_7b")) == 7248023552LL);
  CHECK(parameter_count(find_model("gpt2")) == 124439808LL);
}

TEST_CASE("model FLOPs per token follow the pinned formula") {
  // llama2_7b at T = 4096, by hand: per layer 2h(h+2*n_kv*d) + 2h^2 + 2Th + 2*3*h*ffn
  // = 100663296 + 33554432 + 33554432 + 270532608 = 438304768; 32 layers; + 2hV = 262144000.
  CHECK(flops_per_token(find_model("llama2_7b"), 4096) == Approx(3.0 * (32.0 * 438304768 + 262144000)));
  // GELU MLP counts two matrices: gpt2 at T = 1024.
  const double h = 768, T = 1024, V = 50257, ffn = 3072;
  const double per_layer = 2 * h * (h + 2 * h) + 2 * h * h + 2 * T * h + 2 * 2 * h * ffn;
  CHECK(flops_per_token(find_model("gpt2"), 1024) == Approx(3 * (12 * per_layer + 2 * h * V)));
  // GQA: fewer kv heads, fewer FLOPs.
  ModelConfig mha = find_model("llama3_1_8b");
  mha.kv_heads = mha.heads;
  CHECK(flops_per_token(mha, 8192) > flops_per_token(find_model("llama3_1_8b"), 8192));
}

TEST_CASE("a block's GEMMs add up to the pinned FLOPs, and split over tp and ep without loss") {
  // The pinned formula in closed form (docs/ARCHITECTURE.md), against the sum of the GEMMs
  // that both flops_per_token and the predictor read.
  auto pinned = [](const ModelConfig& c, double T) {
    const double h = static_cast<double>(c.hidden), d = static_cast<double>(c.head_dim());
    const double kv = static_cast<double>(c.kv_heads), ffn = static_cast<double>(c.ffn);
    const double m = c.swiglu ? 3 : 2;
    const double mlp = c.moe() ? 2 * static_cast<double>(c.top_k) * m * h * ffn + 2 * h * static_cast<double>(c.experts)
                               : 2 * m * h * ffn;
    return 3 * (static_cast<double>(c.layers) * (2 * h * (h + 2 * kv * d) + 2 * h * h + 2 * T * h + mlp) +
                2 * h * static_cast<double>(c.vocab));
  };
  std::vector<ModelConfig> models = model_registry();
  ModelConfig moe = find_model("tiny");
  moe.experts = 8;
  moe.top_k = 2;
  models.push_back(moe);
  for (const ModelConfig& c : models) {
    for (const int64_t seq : {int64_t{128}, int64_t{4096}}) {
      INFO(c.name << " seq " << seq);
      CHECK(flops_per_token(c, seq) == Approx(pinned(c, static_cast<double>(seq))).epsilon(1e-12));
      // A rank of tp 2 (x ep 2 for a mixture) does half of a micro-batch of 2's work.
      const double whole = flops_of(block_gemms(c, 2, seq));
      const int64_t ep = c.moe() ? 2 : 1;
      CHECK(flops_of(block_gemms(c, 2, seq, 2, ep)) == Approx(whole / 2).epsilon(1e-12));
      CHECK(head_gemm(c, 2, seq, 2).flops() == Approx(head_gemm(c, 2, seq).flops() / 2).epsilon(1e-12));
    }
  }
}

TEST_CASE("the registry holds what the issues name, and bad shapes are usage errors") {
  for (const char* name : {"llama2_7b", "llama2_13b", "llama2_70b", "llama3_1_8b", "llama3_1_70b", "llama3_2_1b",
                           "llama3_2_3b", "mathstral_7b", "gpt2", "gpt3_1_7b", "gpt3_3_6b", "gpt3_7_5b", "gpt3_18_4b",
                           "gpt3_39_1b", "gpt3_76_1b", "gpt3_145_6b", "gpt3_310_1b", "tiny", "small"}) {
    INFO(name);
    ModelConfig c = find_model(name);
    CHECK_NOTHROW(validate_model(c));
    CHECK_FALSE(c.source.empty());
  }
  CHECK_THROWS_AS(find_model("llama9"), UsageError);
  ModelConfig c = find_model("tiny");
  c.kv_heads = 3;
  CHECK_THROWS_AS(validate_model(c), UsageError);
  c = find_model("tiny");
  c.hidden = 66;
  CHECK_THROWS_AS(validate_model(c), UsageError);
}

TEST_CASE("memory per rank: sharding divides the state, checkpointing shrinks activations") {
  const ModelConfig c = find_model("llama2_7b");
  ParallelLayout one;
  one.seq = 4096;
  const MemoryEstimate m1 = memory_per_rank(c, one);
  const double p = static_cast<double>(parameter_count(c));
  CHECK(m1.params == static_cast<int64_t>(4 * p));
  CHECK(m1.optimizer == static_cast<int64_t>(8 * p));
  ParallelLayout fsdp = one;
  fsdp.dp = 8;
  fsdp.shard_params = true;
  const MemoryEstimate m8 = memory_per_rank(c, fsdp);
  CHECK(m8.grads == static_cast<int64_t>(4 * p / 8));
  CHECK(m8.optimizer == static_cast<int64_t>(8 * p / 8));
  CHECK(m8.activations == m1.activations);  // data parallelism does not split a micro-batch
  ParallelLayout ckpt = fsdp;
  ckpt.activation_checkpointing = true;
  CHECK(memory_per_rank(c, ckpt).activations < m8.activations / 4);
  ParallelLayout tp = one;
  tp.tp = 8;
  CHECK(memory_per_rank(c, tp).params == static_cast<int64_t>(4 * p / 8));
}
