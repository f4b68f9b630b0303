// A parallel strategy as the run scaffold (core/app/train_run.h) sees it: it checks the
// run's shape against its own settings before any communication, says how the model's
// memory is laid out per rank, builds the model (splitting it where it splits layers) and
// wraps it into the roles the training loop drives (roles.h). Strategies know no model
// beyond the transformer's public parts and no flags: a benchmark main binds flags to the
// options struct of one.
#pragma once

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <cstdint>

#include "core/comm/world.h"
#include "core/model/config.h"
#include "core/model/transformer.h"
#include "core/parallel/roles.h"

namespace dtbench {

// The run's shape, as far as strategies care.
struct RunShape {
  ModelConfig model;
  int64_t seq = 0, micro_batch = 1, global_batch = 0;
  bool activation_checkpointing = false;
  bool bf16 = false;
};

// What wrap() is given besides the model.
struct WrapContext {
  World& world;
  at::Device device;  // where this rank computes; the model is there (or on the meta device)
  uint64_t seed;      // initial values are a pure function of (seed, name, index)
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Checks the run's shape against the strategy's settings (UsageError); before any
  // communication.
  virtual void check(const RunShape& shape, int world_size) {}
  // The per-rank layout, for --dry-run's memory estimate and the record.
  virtual ParallelLayout layout(const RunShape& shape, int world_size) const = 0;
  // How many data-parallel replicas share the global batch.
  virtual int64_t data_parallel_size(int world_size) const { return world_size; }
  // Builds the model (uninitialised); a strategy that splits layers builds its groups here.
  virtual Transformer make_model(const ModelConfig& config, World& world) { return Transformer(config); }
  virtual bool trains_mlp() const { return false; }  // --model mlp allowed
  // --dtype bf16: true when the strategy casts to bf16 itself (FSDP); otherwise the loop runs
  // the forward and backward under bf16 autocast with fp32 parameters.
  virtual bool mixed_precision() const { return false; }
  // Takes the freshly built, uninitialised `module` (`lm` is the same object as a
  // transformer, null for the MLP): initialises it (as one process would) and returns the
  // roles the loop drives.
  virtual ParallelRun wrap(torch::nn::Module& module, TransformerImpl* lm, const WrapContext& ctx) = 0;
  // Settings for the record's config and the header line.
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
};

}  // namespace dtbench
