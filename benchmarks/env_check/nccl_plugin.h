// NCCL's net-plugin search, done the way NCCL does it, so env_check sees what NCCL will see.
#pragma once

#include <string>
#include <vector>

#include "benchmarks/env_check/check.h"

namespace dtbench::envcheck {

struct PluginInfo {
  std::vector<std::string> tried;  // names given to dlopen, in order
  std::string found, path, api, version, error;
};

std::vector<std::string> nccl_plugin_candidates();
PluginInfo find_nccl_plugin();

// Appends the "nccl_net_plugin" check and records the plugin's version in `f`.
void probe_nccl_plugin(Facts& f, std::vector<Check>& out);

}  // namespace dtbench::envcheck
