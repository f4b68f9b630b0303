#include "core/comm/store_auth.h"

#include <fmt/format.h>

#include <cstring>

#include "core/report/errors.h"
#include "core/report/regular_file.h"
#include "core/report/sha256.h"

namespace dtbench {

namespace {

constexpr std::size_t kMinToken = 16, kMaxToken = 4096;
constexpr std::size_t kTag = 32, kLength = 8;

std::string read_token_file(const std::string& path) {
  const std::string what = fmt::format("DTBENCH_JOB_TOKEN_FILE={}", path);
  std::string s;
  const std::string why = read_regular_file(path, kMaxToken, &s);
  DT_USAGE(why.empty(), "{}: {}; point it at a readable file of at most {} bytes holding the job's token", what, why,
           kMaxToken);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Digest256 tag(const std::string& token, const std::string& name, const uint8_t* payload, uint64_t bytes) {
  uint8_t len[kLength];
  for (std::size_t i = 0; i < kLength; ++i) len[i] = static_cast<uint8_t>(bytes >> (8 * i));
  return HmacSha256(token)
      .update("value:")
      .update(name)
      .update("\0", 1)
      .update(len, kLength)
      .update(payload, bytes)
      .finish();
}

}  // namespace

JobToken read_job_token(const EnvMap& env) {
  JobToken t;
  if (auto it = env.find("DTBENCH_JOB_TOKEN"); it != env.end()) {
    t = {it->second, "DTBENCH_JOB_TOKEN"};
  } else if (auto f = env.find("DTBENCH_JOB_TOKEN_FILE"); f != env.end()) {
    t = {read_token_file(f->second), fmt::format("DTBENCH_JOB_TOKEN_FILE ({})", f->second)};
  } else {
    return t;
  }
  DT_USAGE(t.value.size() >= kMinToken && t.value.size() <= kMaxToken,
           "{}: the job token has {} characters; use {} to {} (e.g. 64 hex digits from /dev/urandom)", t.source,
           t.value.size(), kMinToken, kMaxToken);
  return t;
}

JobToken store_job_token(const EnvMap& env, const std::string& host) {
  JobToken t = read_job_token(env);
  DT_USAGE(
      !t.value.empty() || is_loopback_host(host),
      "DTBENCH_JOB_TOKEN is not set, and the TCP store at {} is reachable beyond this host: without the job's "
      "token any client could read or forge what the ranks exchange. Export the same DTBENCH_JOB_TOKEN (or "
      "DTBENCH_JOB_TOKEN_FILE) on every rank, e.g. DTBENCH_JOB_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \\n'); "
      "dtbench-launch and slurm/*.sbatch make one for you",
      host);
  return t;
}

std::string StoreAuth::key(const std::string& name) const {
  const Digest256 d = HmacSha256(token_).update("key:").update(name).finish();
  return "dtbench/" + to_hex(d.data(), 16);
}

std::vector<uint8_t> StoreAuth::seal(const std::string& name, const std::string& payload) const {
  std::vector<uint8_t> v(payload.size() + kLength + kTag);
  std::memcpy(v.data(), payload.data(), payload.size());
  const uint64_t n = payload.size();
  for (std::size_t i = 0; i < kLength; ++i) v[payload.size() + i] = static_cast<uint8_t>(n >> (8 * i));
  const Digest256 t = tag(token_, name, v.data(), n);
  std::memcpy(v.data() + n + kLength, t.data(), kTag);
  return v;
}

std::string StoreAuth::open(const std::string& name, const std::vector<uint8_t>& value) const {
  if (value.size() < kLength + kTag)
    throw RuntimeFailure(
        fmt::format("store key '{}' holds {} bytes, fewer than the {} of its framing: it was not "
                    "written by a rank of this job",
                    name, value.size(), kLength + kTag));
  const std::size_t payload = value.size() - kLength - kTag;
  uint64_t claimed = 0;
  for (std::size_t i = 0; i < kLength; ++i) claimed |= uint64_t{value[payload + i]} << (8 * i);
  if (claimed != payload)
    throw RuntimeFailure(
        fmt::format("store key '{}' claims {} bytes but holds {}: a cut or altered value", name, claimed, payload));
  Digest256 want;
  std::memcpy(want.data(), value.data() + payload + kLength, kTag);
  if (!equal_constant_time(tag(token_, name, value.data(), payload), want))
    throw RuntimeFailure(
        fmt::format("store key '{}' fails its authentication: it was written by a client without "
                    "this job's DTBENCH_JOB_TOKEN (or a rank has a different token)",
                    name));
  return std::string(reinterpret_cast<const char*>(value.data()), payload);
}

}  // namespace dtbench
