// The transformer: its parameters are what the arithmetic says, it is causal, starts at
// ln(V) and learns; Llama 3's RoPE scaling, also against transformers (hf_rope.sh).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "core/data/token_source.h"
#include "core/model/rope.h"
#include "core/model/transformer.h"

using namespace dtbench;

namespace {
int64_t count(TransformerImpl& m) {
  int64_t n = 0;
  for (auto& p : m.parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST_CASE("built parameters match the arithmetic") {
  for (const char* name : {"tiny", "small", "tiny_gpt"}) {
    INFO(name);
    Transformer m(find_model(name));
    CHECK(count(*m) == parameter_count(find_model(name)));
  }
  ModelConfig c = find_model("tiny");
  c.tied_embeddings = true;
  Transformer tied(c);
  CHECK(count(*tied) == parameter_count(c));
}

TEST_CASE("initialization is deterministic and starts at ln(V)") {
  const ModelConfig c = find_model("tiny");
  Transformer a(c), b(c);
  initialize_parameters(*a, 5);
  initialize_parameters(*b, 5);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (auto& item : pa) CHECK(at::equal(item.value(), pb[item.key()]));
  at::Tensor batch = open_token_source("synthetic", c.vocab, 32, 1)->samples(0, 4);
  const double loss = a->loss_sum(batch).item<double>() / (4 * 32);
  CHECK(loss == Approx(std::log(256.0)).margin(0.1));
}

TEST_CASE("attention is causal") {
  const ModelConfig c = find_model("tiny");
  Transformer m(c);
  initialize_parameters(*m, 1);
  at::NoGradGuard ng;
  at::Tensor ids = at::randint(0, c.vocab, {1, 16}, at::kLong);
  at::Tensor changed = ids.clone();
  changed[0][10] = (ids[0][10].item<int64_t>() + 1) % c.vocab;
  at::Tensor a = m->forward(ids), b = m->forward(changed);
  CHECK(at::allclose(a.narrow(1, 0, 10), b.narrow(1, 0, 10)));
  CHECK_FALSE(at::allclose(a.narrow(1, 10, 1), b.narrow(1, 10, 1)));
}

TEST_CASE("a tiny model learns a fixed batch") {
  for (const char* name : {"tiny", "tiny_gpt"}) {
    INFO(name);
    const ModelConfig c = find_model(name);
    Transformer m(c);
    initialize_parameters(*m, 3);
    at::Tensor batch = open_token_source("synthetic", c.vocab, 32, 9)->samples(0, 4);
    double first = 0, last = 0;
    for (int step = 0; step < 100; ++step) {
      for (auto& p : m->parameters()) p.mutable_grad() = at::Tensor();
      at::Tensor loss = m->loss_sum(batch) / (4 * 32);
      loss.backward();
      if (step == 0) first = loss.item<double>();
      last = loss.item<double>();
      at::NoGradGuard ng;
      for (auto& p : m->parameters()) p.sub_(p.grad(), 1.0);  // plain SGD
    }
    CHECK(last < first - 1.0);
  }
}

TEST_CASE("Llama 3.1 RoPE scaling keeps short wavelengths and slows long ones by 8") {
  const ModelConfig c = find_model("llama3_1_8b");
  ModelConfig plain = c;
  plain.rope_scaling = {};
  at::Tensor scaled = rope_inv_freq(c), base = rope_inv_freq(plain);
  CHECK(scaled[0].item<double>() == Approx(base[0].item<double>()));
  const int64_t last = base.size(0) - 1;
  CHECK(scaled[last].item<double>() == Approx(base[last].item<double>() / 8.0));
  CHECK(at::all(scaled <= base).item<bool>());
}

TEST_CASE("activation checkpointing gives the same loss and gradients") {
  for (const char* name : {"tiny", "tiny_gpt"}) {
    INFO(name);
    const ModelConfig c = find_model(name);
    Transformer plain(c), ckpt(c);
    initialize_parameters(*plain, 2);
    initialize_parameters(*ckpt, 2);
    ckpt->activation_checkpointing = true;
    at::Tensor batch = open_token_source("synthetic", c.vocab, 32, 4)->samples(0, 3);
    at::Tensor a = plain->loss_sum(batch), b = ckpt->loss_sum(batch);
    CHECK(a.item<double>() == b.item<double>());
    a.backward();
    b.backward();
    auto pa = plain->named_parameters(), pb = ckpt->named_parameters();
    for (auto& item : pa) {
      INFO(item.key());
      REQUIRE(pb[item.key()].grad().defined());
      CHECK(at::allclose(item.value().grad(), pb[item.key()].grad(), 1e-6, 1e-7));
    }
  }
}

// Run by tests/unit/hf_rope.sh, which writes the reference with Hugging Face transformers.
TEST_CASE("RoPE frequencies equal transformers' for every Llama-family release", "[.hf_reference]") {
  const char* path = std::getenv("DTBENCH_ROPE_REFERENCE");
  REQUIRE(path != nullptr);
  std::ifstream in(path);
  REQUIRE(in.good());
  const nlohmann::json ref = nlohmann::json::parse(in);
  REQUIRE(ref.size() >= 8);
  for (const auto& [name, want] : ref.items()) {
    INFO(name);
    const at::Tensor ours = rope_inv_freq(find_model(name));
    REQUIRE(ours.size(0) == static_cast<int64_t>(want.size()));
    double worst = 0;
    for (int64_t i = 0; i < ours.size(0); ++i) {
      const double w = want[static_cast<std::size_t>(i)].get<double>(), o = ours[i].item<double>();
      worst = std::max(worst, std::abs(o - w) / w);
    }
    // transformers computes in fp32: agreement to its rounding, far inside the factor-of-4
    // difference between Llama 3.1's and 3.2's scaling.
    CHECK(worst < 1e-6);
    std::printf("model %s: %lld frequencies, worst relative difference %.2e\n", name.c_str(),
                static_cast<long long>(ours.size(0)), worst);
  }
}
