// The step-time predictor (docs/ARCHITECTURE.md, "Predictions"): one training step of a model
// under a layout on a hardware profile, split into compute, the communication compute waited
// for (per collective), the pipeline bubble and the optimizer, with the overlap our strategies
// implement: FSDP gathers one unit ahead in forward and backward and reduce-scatters behind
// (hybrid sharding all-reduces the shards on a second communicator), DDP all-reduces its
// buckets during the last micro-step's backward, tensor- and expert-parallel collectives sit
// on the critical path, and the pipeline runs the schedules of core/parallel/pipeline as
// they are timed (1F1B action lists; the interleaved lock-step timetable).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/predict/hw_profile.h"

namespace dtbench {

struct Cluster {
  int64_t nodes = 1, ranks_per_node = 1;
};

// One kind of communication in a step: every call of it summed, and the part compute waited for.
struct CommTerm {
  std::string what;  // "tensor parallel", "fsdp gather", ...
  Coll coll = Coll::kAllReduce;
  std::string level;  // "intra_node" | "inter_node"
  std::string rule;   // how its fit was chosen (collective_cost.h)
  int64_t ranks = 0, calls = 0;
  double bytes = 0;                 // all calls of a step
  double one_bytes = 0, one_s = 0;  // the last call costed (the critical-path ones repeat it)
  double total_s = 0, exposed_s = 0;
};

struct Prediction {
  double step_s = 0;
  double compute_s = 0, gemm_s = 0, elementwise_s = 0;  // gemm + elementwise (+ recompute) = compute
  double exposed_comm_s = 0, bubble_s = 0, optimizer_s = 0;
  // Communication overlapped with compute (FSDP's, HSDP's, DDP's buckets), and what it still
  // costs compute (overlap_cost x it).
  double hidden_comm_s = 0, overlap_s = 0;
  std::vector<CommTerm> comm;
  double tokens_per_s = 0, tokens_per_s_per_device = 0, tflops_per_device = 0, mfu = 0;
  MemoryEstimate memory;
  int64_t runtime_bytes = 0, peak_mem_bytes = 0;
  double mem_capacity = 0;               // 0: the profile does not say
  std::vector<std::string> assumptions;  // each rule that replaced a missing measurement
  std::string profile;
};

// UsageError (exit 2, one line) for a layout that cannot exist or that our executables do not
// run, and for a profile without the figures the layout needs.
Prediction predict_step(const ModelConfig& c, const ParallelLayout& l, const Cluster& cluster, const HwProfile& p);

// How long the pipeline runs `micro` micro-batches when each stage takes t_f[s] per forward and
// t_b[s] per backward (of all its chunks) and a transfer between stages takes t_p2p: the 1F1B
// action lists (chunks 1) or the interleaved timetable (chunks > 1), as pipeline_driver runs them.
double pipeline_makespan(int64_t chunks, int64_t micro, const std::vector<double>& t_f, const std::vector<double>& t_b,
                         double t_p2p);

nlohmann::json to_json(const Prediction& p);

// A training record's `prediction`: the prediction and, against the record's `metrics`, the
// measured over the predicted step time, tokens/s and peak memory (1: as predicted; a step
// ratio of 1.3 is a run 30 % slower than its hardware should give).
nlohmann::json prediction_record(const Prediction& p, const nlohmann::json& metrics);
// "# predicted on P: step 0.012 s, ... measured/predicted: step 1.08, ..."
std::string prediction_line(const nlohmann::json& prediction);
std::string describe(const Prediction& p);

}  // namespace dtbench
