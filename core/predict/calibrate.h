// planner --calibrate: a hardware profile of this machine from its own records.
//   - env_check --sweep: the node's GEMM rate and memory bandwidth (its probe), per core;
//   - collectives_perf: a latency-bandwidth fit per collective and level (one node: inside a
//     node; several: between nodes), with its points and residuals;
//   - training records (fsdp_llama, megatron_gpt, ddp_train): the shares of those rates the
//     training code achieves (GEMM, elementwise, optimizer), fitted so that the predicted step
//     times match the measured ones, and the memory a process holds besides the model.
// Every record must come from the same kind of host (CPU model, core count, GPU model) and,
// refining a profile, from its hosts: records of another machine would predict for it.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/predict/hw_profile.h"
#include "core/predict/step_model.h"

namespace dtbench {

// What a training record says about its run, as the predictor takes it.
struct TrainingRun {
  std::string file;
  ModelConfig model;
  ParallelLayout layout;
  Cluster cluster;
  double step_s = 0;           // median over measured steps
  int64_t peak_mem_bytes = 0;  // the largest rank's
};

// UsageError naming the file when it is not a training record of a transformer.
TrainingRun read_training_run(const nlohmann::json& record, const std::string& file);

// The host identity a record was measured on.
HostIdentity record_host(const nlohmann::json& record, const std::string& file);

// Builds (or, given `base`, refines) a profile named `name` from the records at `files`.
// `cores_per_node` > 0 replaces the cores the records count (nodes that share a host's CPUs,
// VMs or namespaces, each see all of them). UsageError: an unreadable record, one of another
// kind of benchmark, hosts that differ from each other or from `base`'s, or too few records
// to fit what is asked.
HwProfile calibrate_profile(const std::vector<std::string>& files, const std::string& name,
                            const std::optional<HwProfile>& base, int64_t cores_per_node = 0);

}  // namespace dtbench
