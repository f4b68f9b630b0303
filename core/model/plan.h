// What --dry-run prints: parameters, FLOPs per token and per-rank memory for a config and a
// parallel layout, computed without allocating anything.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/model/config.h"

namespace dtbench {

// Throws UsageError when the layout cannot hold the model (tp not dividing the heads, pp
// not dividing the layers, and the like).
void validate_layout(const ModelConfig& c, const ParallelLayout& l);

// The model's side of --ep (UsageError): a mixture of experts whose experts it divides. The
// strategies and validate_layout share it; each checks ep against its own ranks.
void validate_expert_parallel(const ModelConfig& c, int64_t ep);

// Human-readable lines, one figure each.
std::string describe_plan(const ModelConfig& c, const ParallelLayout& l);

// The same figures for a record.
nlohmann::json plan_json(const ModelConfig& c, const ParallelLayout& l);

}  // namespace dtbench
