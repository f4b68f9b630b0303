// FSDP memory, measured, not estimated: a counting CPU allocator (c10::SetCPUAllocator)
// sees every byte libtorch allocates on CPU. After sharding, a rank holds only its shards
// (parameters, gradients, AdamW moments: (P + G + 2P) / n plus padding); during a training
// step its peak is at most that plus the root unit's (the embedding's) full parameters and
// gradient, two units' full parameters and two units' flat gradients (the largest of the
// blocks and the head unit), plus the step's activations
// (kept small here: 4 tokens). ZeRO-2 (no reshard after forward) must exceed that bound,
// which shows the measurement can tell.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "core/data/token_source.h"
#include "core/layers/parameters.h"
#include "core/model/config.h"
#include "core/model/transformer.h"
#include "core/parallel/fsdp/fsdp.h"
#include "core/train/adamw.h"
#include "tests/dist/world_fixture.h"

using namespace dtbench;

namespace {

class CountingAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) override {
    c10::DataPtr inner = base()->allocate(n);
    void* ptr = inner.get();
    auto* ctx = new Ctx{std::move(inner), n, this};
    const int64_t now = live_ += static_cast<int64_t>(n);
    int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    return {ptr, ctx, &release, c10::Device(c10::DeviceType::CPU)};
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
  int64_t live() const { return live_; }
  int64_t peak() const { return peak_; }
  void reset_peak() { peak_ = live_.load(); }

 private:
  struct Ctx {
    c10::DataPtr inner;
    std::size_t n;
    CountingAllocator* owner;
  };
  static void release(void* p) {
    auto* ctx = static_cast<Ctx*>(p);
    ctx->owner->live_ -= static_cast<int64_t>(ctx->n);
    delete ctx;  // frees through the wrapped allocator
  }
  static c10::Allocator* base() {
    static c10::Allocator* b = c10::GetDefaultCPUAllocator();
    return b;
  }
  std::atomic<int64_t> live_{0}, peak_{0};
};

CountingAllocator& counting() {
  static CountingAllocator* a = [] {
    auto* x = new CountingAllocator();
    c10::SetCPUAllocator(x, /*priority=*/100);
    return x;
  }();
  return *a;
}

struct Measured {
  int64_t built = 0;  // peak while the model is built (on the meta device) and sharded
  int64_t held = 0;   // after sharding and the optimizer's state, before the step
  int64_t peak = 0;   // during one training step
};

Measured measure(const ModelConfig& c, bool reshard, bool checkpointing) {
  Communicator& w = test::comm();
  CountingAllocator& a = counting();
  const int64_t base = a.live();
  Measured m;
  {
    auto data = open_token_source("synthetic", c.vocab, 4, 3);
    a.reset_peak();
    Transformer lm{nullptr};
    {
      const MetaParameters meta;  // as fsdp_llama builds it
      lm = Transformer(c);
    }
    FsdpOptions opt;
    opt.reshard_after_forward = reshard;
    opt.activation_checkpointing = checkpointing;
    FullyShardedDataParallel fsdp(*lm, lm->runner_units(), w, opt,
                                  [&](const std::string& name, const at::Tensor& v, int64_t start) {
                                    initialize_parameter_slice(c, 1, name, v, start);
                                  });
    lm->block_runner = &fsdp;
    m.built = a.peak() - base;
    AdamW adam({0.9, 0.95, 1e-8, 0.0});
    std::vector<at::Tensor> grads;
    for (auto& s : fsdp.slices()) {
      adam.add(s.name, s.value, true);
      grads.push_back(s.grad);
    }
    m.held = a.live() - base;
    a.reset_peak();
    fsdp.zero_grads();
    fsdp.begin_micro_step();
    lm->loss_sum(data->samples(w.rank(), 1)).backward();
    fsdp.finish_micro_step();
    adam.step(1e-3, grads);
    m.peak = a.peak() - base;
  }
  return m;
}

}  // namespace

TEST_CASE("FSDP holds shards only, and its step peak is bounded, measured by a counting allocator") {
  Communicator& w = test::comm();
  const int64_t n = w.size();
  ModelConfig c = find_model("tiny");
  c.hidden = 256;
  c.heads = 4;
  c.kv_heads = 4;
  c.ffn = 704;
  c.layers = 6;
  c.vocab = 256;
  validate_model(c);
  const int64_t total = parameter_count(c);
  const int64_t root = c.vocab * c.hidden;             // the embedding
  const int64_t head = c.vocab * c.hidden + c.hidden;  // the head unit: output layer, final norm
  const int64_t block = (total - root - head) / c.layers;
  const int64_t unit = std::max(block, head);  // the largest of the model's units
  const int64_t f = 4;                         // bytes per fp32 element
  auto padded = [&](int64_t k) { return (k + n - 1) / n; };
  // Per rank: parameter, gradient and two AdamW moment shards, each padded to n per unit.
  const int64_t shards = 4 * f * (padded(root) + c.layers * padded(block) + padded(head));
  // The step's own tensors: activations of 4 tokens, logits, the optimizer's temporaries.
  // (AdamW's denominator for one parameter slice at a time; the largest is the MLP's or the head's).
  const int64_t activations =
      4 * (c.vocab + 64 * c.hidden * c.layers) * f + 2 * f * std::max(c.ffn, c.vocab) * c.hidden;
  const int64_t bound = shards + 2 * root * f + 4 * unit * f + activations;  // root P+G, 2 units P+G

  for (bool checkpointing : {true, false}) {
    const Measured m = measure(c, true, checkpointing);
    if (w.rank() == 0)
      std::printf(
          "    fsdp memory, %lld ranks, checkpointing %s: peak while built %.2f MiB; held %.2f MiB (shards %.2f MiB); "
          "step peak %.2f MiB, bound %.2f MiB (root P+G %.2f, 2 units P+G %.2f, activations %.2f); "
          "whole model P+G+2P %.2f MiB\n",
          static_cast<long long>(n), checkpointing ? "on" : "off", m.built / 1048576.0, m.held / 1048576.0,
          shards / 1048576.0, m.peak / 1048576.0, bound / 1048576.0, 2 * root * f / 1048576.0, 4 * unit * f / 1048576.0,
          activations / 1048576.0, 4.0 * total * f / 1048576.0);
    CHECK(m.built <= shards / 2 + int64_t{64} * 1024);  // parameter and gradient shards: never the whole model
    CHECK(m.held <= shards + int64_t{64} * 1024);       // with the AdamW moments
    CHECK(m.peak <= bound);
  }
  if (n > 1) {  // one rank holds everything: nothing to gather, ZeRO-2 or not
    const Measured zero2 = measure(c, false, true);
    if (w.rank() == 0)
      std::printf("    ZeRO-2 (no reshard after forward): step peak %.2f MiB > bound %.2f MiB\n",
                  zero2.peak / 1048576.0, bound / 1048576.0);
    CHECK(zero2.peak > bound);
  }
}
