// The job's secret and how the members of one job use it on the TCP store.
//
// The secret is DTBENCH_JOB_TOKEN (the value) or DTBENCH_JOB_TOKEN_FILE (a file holding it,
// e.g. a Kubernetes Secret mounted in the pod); never a flag, so it is not in argv (ps) or in
// the record. slurm/common.sh and dtbench-launch make one per job; k8s/ reads it from a Secret.
//
// With it, what a rank writes to the store is bound to the job:
//   - a key's name in the store is "dtbench/" + HMAC(token, "key:" + name), so a client
//     without the token cannot name (to read or overwrite) a rank's key;
//   - a value is [payload][u64 length][HMAC(token, "value:" + name + length + payload)], so
//     a value written without the token, cut short, grown or moved to another key is refused
//     (exit 3 naming the key), never copied.
// Without a token the same framing still catches a truncated or misplaced value, but proves
// nothing: that is allowed only where the rendezvous address is loopback (one host).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/comm/launch_env.h"

namespace dtbench {

struct JobToken {
  std::string value;   // empty: none
  std::string source;  // "DTBENCH_JOB_TOKEN" or "DTBENCH_JOB_TOKEN_FILE (PATH)", for messages
};

// The token from the environment; exit 2 naming the variable when it is unusable (shorter
// than 16 characters, a file that is missing, unreadable, not regular or over 4 KiB).
JobToken read_job_token(const EnvMap& env);

// The token a store at `host` needs: exit 2 when there is none and `host` is not loopback.
JobToken store_job_token(const EnvMap& env, const std::string& host);

class StoreAuth {
 public:
  explicit StoreAuth(std::string token) : token_(std::move(token)) {}
  bool authenticated() const { return !token_.empty(); }
  // The store's name for the logical key `name`.
  std::string key(const std::string& name) const;
  std::vector<uint8_t> seal(const std::string& name, const std::string& payload) const;
  // The payload of a sealed value; RuntimeFailure (exit 3) naming the key when its framing or
  // its tag is wrong.
  std::string open(const std::string& name, const std::vector<uint8_t>& value) const;

 private:
  std::string token_;
};

}  // namespace dtbench
