// Token files: flat streams (nanoGPT) and Megatron indexed datasets, memory-mapped and
// checked when opened; and open_token_source(), which picks the source for a --data spec.
#include <ATen/ATen.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "core/data/indexed_format.h"
#include "core/data/sources.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

template <typename T>
int64_t max_token(const void* data, int64_t n, int64_t* negative_at) {
  const T* p = static_cast<const T*>(data);
  int64_t mx = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = static_cast<int64_t>(p[i]);
    if (v < 0 && *negative_at < 0) *negative_at = i;
    mx = std::max(mx, v);
  }
  return mx;
}

class StreamSource final : public TokenSource {
 public:
  StreamSource(const std::string& path, const std::string& what, int token_bytes, int64_t vocab, int64_t seq)
      : path_(path), what_(what), tb_(token_bytes), seq_(seq) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    DT_USAGE(fd >= 0, "--data {}: cannot open: {}", path, std::strerror(errno));
    struct stat st {};
    ::fstat(fd, &st);
    bytes_ = st.st_size;
    DT_USAGE(bytes_ % tb_ == 0, "--data {}: {} bytes is not a whole number of {}-byte tokens; the file is truncated",
             path, bytes_, tb_);
    n_ = bytes_ / tb_;
    DT_USAGE(n_ >= seq + 1,
             "--data {}: {} tokens, fewer than one sample of --seq {} + 1; use a shorter --seq or more data", path, n_,
             seq);
    map_ = ::mmap(nullptr, static_cast<size_t>(bytes_), PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    DT_USAGE(map_ != MAP_FAILED, "--data {}: cannot map: {}", path, std::strerror(errno));
    int64_t negative = -1, mx = 0;
    switch (tb_) {
      case 1:
        mx = max_token<uint8_t>(map_, n_, &negative);
        break;
      case 2:
        mx = max_token<uint16_t>(map_, n_, &negative);
        break;
      case 4:
        mx = max_token<int32_t>(map_, n_, &negative);
        break;
      default:
        mx = max_token<int64_t>(map_, n_, &negative);
        break;
    }
    DT_USAGE(negative < 0, "--data {}: token {} is negative; the file is not {}", path, negative, what);
    DT_USAGE(mx < vocab, "--data {}: token id {} is not below the vocabulary ({}); use a model with --vocab {} or more",
             path, mx, vocab, mx + 1);
  }
  ~StreamSource() override {
    if (map_ && map_ != MAP_FAILED) ::munmap(map_, static_cast<size_t>(bytes_));
  }

  at::Tensor samples(int64_t first, int64_t count) const override {
    at::Tensor out = at::empty({count, seq_ + 1}, at::kLong);
    int64_t* o = out.data_ptr<int64_t>();
    const int64_t windows = n_ - seq_;  // start positions 0 .. n - seq - 1
    for (int64_t i = 0; i < count; ++i) {
      const int64_t start = static_cast<int64_t>((static_cast<unsigned __int128>(first + i) * seq_) % windows);
      for (int64_t j = 0; j <= seq_; ++j) o[i * (seq_ + 1) + j] = token(start + j);
    }
    return out;
  }

  std::string describe() const override { return fmt::format("{} {} ({} tokens)", what_, path_, n_); }

 private:
  int64_t token(int64_t i) const {
    const char* base = static_cast<const char*>(map_);
    switch (tb_) {
      case 1:
        return static_cast<const uint8_t*>(map_)[i];
      case 2:
        return static_cast<const uint16_t*>(map_)[i];
      case 4:
        return static_cast<const int32_t*>(map_)[i];
      default: {
        int64_t v;
        std::memcpy(&v, base + i * 8, 8);
        return v;
      }
    }
  }

  std::string path_, what_;
  int tb_;
  int64_t seq_, bytes_ = 0, n_ = 0;
  void* map_ = nullptr;
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
