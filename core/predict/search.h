// planner --search: every layout of a model on N nodes that our executables run (FSDP or
// hybrid sharding over the world; tensor x pipeline x data parallel replicas with DDP;
// expert parallelism for a mixture of experts), with micro-batches and activation
// checkpointing, predicted on a profile; those that fit memory ranked by tokens/s.
#pragma once

#include <string>
#include <vector>

#include "core/predict/step_model.h"

namespace dtbench {

struct SearchSpace {
  int64_t nodes = 1;
  int64_t ranks_per_node = 0;         // 0: the profile's devices per node
  int64_t seq = 0, global_batch = 0;  // global batch in sequences; 0: dp x micro-batch
  bool bf16 = true;
};

struct Candidate {
  ParallelLayout layout;
  Prediction prediction;
  std::string label;  // "fsdp dp 16 mb 2 ac", ...
};

struct SearchResult {
  std::vector<Candidate> ranked;  // fitting memory, fastest first
  // Why the others were left out, with how many: "activations and state exceed 80 GiB: 12".
  std::vector<std::pair<std::string, int64_t>> rejected;
  int64_t considered = 0;
};

SearchResult search_layouts(const ModelConfig& c, const SearchSpace& space, const HwProfile& p);

std::string layout_label(const ParallelLayout& l);

}  // namespace dtbench
