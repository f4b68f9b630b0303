// The concrete token sources behind open_token_source().
#pragma once

#include <memory>

#include "core/data/token_source.h"

namespace dtbench {

std::unique_ptr<TokenSource> make_synthetic_source(int64_t vocab, int64_t seq, uint64_t seed);

// A memory-mapped stream of tokens of `token_bytes` (1, 2, 4 or 8) starting at `offset` in
// `path`: sample g is the window of seq + 1 tokens at (g * seq) mod (n - seq), so that
// consecutive samples tile the stream and wrap around at its end.
std::unique_ptr<TokenSource> make_stream_source(const std::string& path, const std::string& what, int token_bytes,
                                                int64_t vocab, int64_t seq);

}  // namespace dtbench
