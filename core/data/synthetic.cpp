// Synthetic tokens: token j of sample g is a Philox draw keyed by (seed, g), so it depends
// on nothing but the seed and the global sample index.
#include <ATen/ATen.h>
#include <ATen/core/PhiloxRNGEngine.h>
#include <fmt/format.h>

#include "core/data/sources.h"

namespace dtbench {

namespace {

class SyntheticSource final : public TokenSource {
 public:
  SyntheticSource(int64_t vocab, int64_t seq, uint64_t seed) : vocab_(vocab), seq_(seq), seed_(seed) {}

  at::Tensor samples(int64_t first, int64_t count) const override {
    at::Tensor out = at::empty({count, seq_ + 1}, at::kLong);
    int64_t* p = out.data_ptr<int64_t>();
    for (int64_t i = 0; i < count; ++i) {
      at::Philox4_32 rng(seed_, static_cast<uint64_t>(first + i), 0);
      for (int64_t j = 0; j <= seq_; ++j) {
        // Lemire's multiply-shift maps 32 random bits onto [0, vocab) without a division.
        p[i * (seq_ + 1) + j] = static_cast<int64_t>((static_cast<uint64_t>(rng()) * vocab_) >> 32);
      }
    }
    return out;
  }

  std::string describe() const override { return fmt::format("synthetic (seed {}, vocab {})", seed_, vocab_); }

 private:
  int64_t vocab_, seq_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<TokenSource> make_synthetic_source(int64_t vocab, int64_t seq, uint64_t seed) {
  return std::make_unique<SyntheticSource>(vocab, seq, seed);
}

}  // namespace dtbench
