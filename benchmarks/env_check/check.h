// env_check's vocabulary: a check with its verdict, the expectations a user states with
// --expect, and the facts that several checks read.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace dtbench::envcheck {

struct Check {
  std::string name;      // "gpus", "efa_devices", "env NCCL_PROTO", ...
  std::string verdict;   // ok | warn | fail
  nlohmann::json value;  // what was found; compared across nodes
  std::string detail;    // one line: what it means and, when not ok, the fix
};

inline Check ok(std::string name, nlohmann::json value, std::string detail = "") {
  return {std::move(name), "ok", std::move(value), std::move(detail)};
}
inline Check warn(std::string name, nlohmann::json value, std::string detail) {
  return {std::move(name), "warn", std::move(value), std::move(detail)};
}
inline Check fail(std::string name, nlohmann::json value, std::string detail) {
  return {std::move(name), "fail", std::move(value), std::move(detail)};
}

// --expect instance=p5.48xlarge gpus=8 efa=32 (any subset; -1 = not stated).
struct Expectations {
  std::string instance;
  int gpus = -1, efa = -1;
};

// Parses "k=v" items (several per flag, space- or comma-separated); an unknown key or a bad
// number throws UsageError naming it. An instance type sets gpus and efa from the table
// unless they are given too.
Expectations parse_expectations(const std::vector<std::string>& items);

// What an instance type carries (AWS's published figures); false when not in the table.
bool instance_shape(const std::string& type, int* gpus, int* efa);

// What the probes learn once and several checks need.
struct Facts {
  std::string instance;   // from DMI ("" off EC2)
  int gpus = 0;           // visible CUDA devices
  int efa = 0;            // EFA devices in sysfs
  std::string libfabric;  // "1.22" or "" when not built with libfabric
  std::vector<std::string> providers;
  std::string ofi_plugin_version;  // aws-ofi-nccl, when found
};

int version_compare(const std::string& a, const std::string& b);  // "1.18" vs "1.9": > 0

// The probes, each appending checks (and filling facts for the later ones). Order matters:
// system, fabric, gpu, nccl, environment.
void probe_system(Facts& f, std::vector<Check>& out);
void probe_fabric(Facts& f, std::vector<Check>& out);
void probe_gpus(Facts& f, std::vector<Check>& out);
void probe_nccl(Facts& f, std::vector<Check>& out);
void probe_environment(const Facts& f, std::vector<Check>& out);

// A checked NCCL all_reduce, all_gather and reduce_scatter across every local GPU (one
// process, ncclCommInitAll); a warn check each where there is no GPU or no CUDA build.
void run_gpu_collectives(const Facts& f, double timeout_s, std::vector<Check>& out);

// The expectations against the facts: one check each, fail when unmet.
void check_expectations(const Expectations& e, const Facts& f, std::vector<Check>& out);

nlohmann::json to_json(const Check& c);

}  // namespace dtbench::envcheck
