// Where training tokens come from: synthetic, a flat token file (nanoGPT's uint16 or
// uint32 .bin), or a Megatron indexed dataset (.bin + .idx, MMIDIDX). Every source is a
// pure function of the global sample index, so any parallel layout reads the same tokens.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

namespace dtbench {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // Samples [first, first + count) as int64 [count, seq + 1]: inputs are [:, :-1], the
  // next-token targets [:, 1:].
  virtual at::Tensor samples(int64_t first, int64_t count) const = 0;
  virtual std::string describe() const = 0;
};

// `spec` is "synthetic", or a path: PATH.bin with PATH.idx beside it is an indexed dataset;
// any other file is a flat token file of uint16, or of uint32 when written PATH:uint32.
// Files are checked when opened (magic, sizes, every token below `vocab`, at least seq + 1
// tokens); a bad file is a UsageError (exit 2) naming the file and the problem.
std::unique_ptr<TokenSource> open_token_source(const std::string& spec, int64_t vocab, int64_t seq, uint64_t seed);

}  // namespace dtbench
