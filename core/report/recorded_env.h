// Which environment variables a result record names, and which values it keeps.
//
// A record is shared (nightly dashboards, issue threads), so a value is copied only for the
// variables on an allowlist of settings known to change performance or behaviour (NCCL, libfabric
// and EFA, aws-ofi-nccl, CUDA). Any other variable under those prefixes, in any case, is named
// with the value "<not recorded>": a reader sees that it was set, never what it holds
// (NCCL_IB_PASSWD, FI_EFA_CREDS, nccl_token). docs/ARCHITECTURE.md lists the allowlist.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace dtbench {

// {name: value or "<not recorded>"} for the variables of `env` under NCCL_, FI_, OFI_NCCL_ and
// CUDA_ (prefixes matched in any case).
nlohmann::json recorded_environment(const std::vector<std::pair<std::string, std::string>>& env);

// The allowlist, for documentation and tests.
const std::vector<std::string>& recorded_variables();

}  // namespace dtbench
