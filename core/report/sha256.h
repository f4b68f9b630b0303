// SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104): what the TCP store's members use to prove
// the job's secret (core/comm/store_auth.h). Plain portable C++; a few hundred MB/s, which is
// far more than the control plane moves. Tested against FIPS's and RFC 4231's vectors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dtbench {

using Digest256 = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  Sha256& update(const void* data, std::size_t bytes);
  Sha256& update(std::string_view s) { return update(s.data(), s.size()); }
  Digest256 finish();  // the object is spent afterwards

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  std::size_t fill_ = 0;
  uint64_t total_ = 0;
};

// HMAC-SHA-256 of `message` under `key`, incrementally: HmacSha256(key).update(a).update(b).finish().
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  HmacSha256& update(const void* data, std::size_t bytes) {
    inner_.update(data, bytes);
    return *this;
  }
  HmacSha256& update(std::string_view s) { return update(s.data(), s.size()); }
  Digest256 finish();

 private:
  Sha256 inner_;
  std::array<uint8_t, 64> outer_key_{};
};

std::string to_hex(const uint8_t* data, std::size_t bytes);
inline std::string to_hex(const Digest256& d) { return to_hex(d.data(), d.size()); }
// Equality in time independent of where the inputs differ (tags are compared this way).
bool equal_constant_time(const Digest256& a, const Digest256& b);

}  // namespace dtbench
