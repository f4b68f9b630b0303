// Token files: flat streams (nanoGPT) and Megatron indexed datasets, read with positioned
// reads and checked when opened; and open_token_source(), which picks the source for a --data spec.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/data/indexed_format.h"
#include "core/data/sources.h"
#include "core/report/errors.h"
#include "core/report/regular_file.h"

namespace dtbench {

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The little-endian token at `p`, of `token_bytes` bytes: uint8, uint16, int32 or int64.
int64_t token_at(const char* p, int token_bytes) {
  switch (token_bytes) {
    case 1:
      return static_cast<uint8_t>(*p);
    case 2: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case 4: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    default: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return v;
    }
  }
}

// A file of tokens, read with positioned reads (not a mapping: a file truncated while
// training is then a reported failure naming it, not a SIGBUS), checked whole when opened.
class StreamSource final : public TokenSource {
 public:
  StreamSource(const std::string& path, const std::string& what, int token_bytes, int64_t vocab, int64_t seq)
      : file_(path), what_(what), tb_(token_bytes), seq_(seq) {
    DT_USAGE(file_.ok(), "--data {}: {}; give synthetic, a token file, or an indexed dataset's .bin", path,
             file_.error());
    const int64_t bytes = file_.size();
    DT_USAGE(bytes % tb_ == 0, "--data {}: {} bytes is not a whole number of {}-byte tokens; the file is truncated",
             path, bytes, tb_);
    n_ = bytes / tb_;
    DT_USAGE(n_ >= seq + 1,
             "--data {}: {} tokens, fewer than one sample of --seq {} + 1; use a shorter --seq or more data", path, n_,
             seq);
    int64_t negative = -1, mx = 0;
    std::vector<char> chunk(std::size_t{1} << 20);  // a whole number of tokens of every width
    for (int64_t at = 0; at < bytes; at += static_cast<int64_t>(chunk.size())) {
      const int64_t len = std::min<int64_t>(static_cast<int64_t>(chunk.size()), bytes - at);
      read(chunk.data(), len, at);
      for (int64_t i = 0; i < len; i += tb_) {
        const int64_t v = token_at(chunk.data() + i, tb_);
        if (v < 0 && negative < 0) negative = (at + i) / tb_;
        mx = std::max(mx, v);
      }
    }
    DT_USAGE(negative < 0, "--data {}: token {} is negative; the file is not {}", path, negative, what);
    DT_USAGE(mx < vocab, "--data {}: token id {} is not below the vocabulary ({}); use a model with --vocab {} or more",
             path, mx, vocab, mx + 1);
  }

  at::Tensor samples(int64_t first, int64_t count) const override {
    at::Tensor out = at::empty({count, seq_ + 1}, at::kLong);
    int64_t* o = out.data_ptr<int64_t>();
    const int64_t windows = n_ - seq_;  // start positions 0 .. n - seq - 1
    std::vector<char> window(static_cast<std::size_t>((seq_ + 1) * tb_));
    for (int64_t i = 0; i < count; ++i) {
      const int64_t start = static_cast<int64_t>((static_cast<unsigned __int128>(first + i) * seq_) % windows);
      read(window.data(), static_cast<int64_t>(window.size()), start * tb_);
      for (int64_t j = 0; j <= seq_; ++j) o[i * (seq_ + 1) + j] = token_at(window.data() + j * tb_, tb_);
    }
    return out;
  }

  std::string describe() const override { return fmt::format("{} {} ({} tokens)", what_, file_.path(), n_); }

 private:
  // Bytes [offset, offset + len) of the file; checked at open, so a failure here means the
  // file changed under the run.
  void read(char* dst, int64_t len, int64_t offset) const {
    if (std::string why = file_.read_at(dst, len, offset); !why.empty())
      throw RuntimeFailure(fmt::format("--data {}: {} (the file changed while the run read it)", file_.path(), why));
  }

  RegularFile file_;
  std::string what_;
  int tb_;
  int64_t seq_, n_ = 0;
};

}  // namespace

std::unique_ptr<TokenSource> make_stream_source(const std::string& path, const std::string& what, int token_bytes,
                                                int64_t vocab, int64_t seq) {
  return std::make_unique<StreamSource>(path, what, token_bytes, vocab, seq);
}

std::unique_ptr<TokenSource> open_token_source(const std::string& spec, int64_t vocab, int64_t seq, uint64_t seed) {
  if (spec == "synthetic") return make_synthetic_source(vocab, seq, seed);
  std::string path = spec;
  int token_bytes = 2;
  if (auto colon = spec.rfind(':'); colon != std::string::npos) {
    const std::string kind = spec.substr(colon + 1);
    DT_USAGE(kind == "uint16" || kind == "uint32",
             "--data {}: ':{}' is not a token type; write PATH, PATH:uint16 or PATH:uint32", spec, kind);
    path = spec.substr(0, colon);
    token_bytes = kind == "uint32" ? 4 : 2;
  }
  DT_USAGE(exists(path), "--data {}: no such file; give synthetic, a token file, or an indexed dataset's .bin", path);
  const std::string stem =
      path.size() > 4 && path.substr(path.size() - 4) == ".bin" ? path.substr(0, path.size() - 4) : "";
  if (!stem.empty() && exists(stem + ".idx")) {
    // The documents of an indexed dataset, concatenated: samples may span documents, as
    // Megatron's GPT dataset's do.
    IndexedIndex idx = read_indexed_index(stem + ".idx");
    const int tb = indexed_token_bytes(idx.dtype_code);
    int64_t tokens = 0;
    for (int32_t s : idx.sizes) tokens += s;
    struct stat st {};
    ::stat(path.c_str(), &st);
    DT_USAGE(st.st_size == tokens * tb,
             "--data {}: the .bin has {} bytes but its .idx describes {} tokens of {} bytes; one of them is truncated",
             path, static_cast<int64_t>(st.st_size), tokens, tb);
    return make_stream_source(path, "indexed dataset", tb, vocab, seq);
  }
  return make_stream_source(path, token_bytes == 2 ? "flat uint16 token file" : "flat uint32 token file", token_bytes,
                            vocab, seq);
}

}  // namespace dtbench
