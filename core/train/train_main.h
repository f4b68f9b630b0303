// The body every training executable shares (ddp_train, fsdp_llama): flags, launch
// discovery, checks before any communication, --dry-run, the world, the model and its
// data, the loop, the summary line and the result record. A strategy supplies only what
// differs: its flags, its memory layout, and how it wraps the model.
#pragma once

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "core/comm/world.h"
#include "core/model/config.h"
#include "core/model/transformer.h"
#include "core/train/train_args.h"
#include "core/train/trainable.h"
#include "core/train/trainer.h"

namespace dtbench {

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual void add_flags(cxxopts::Options& options) {}
  // Reads and checks its own flags (UsageError), before the training flags.
  virtual void read_flags(const cxxopts::ParseResult& flags, int world_size) {}
  // Checks the training flags against its own (UsageError); before any communication.
  virtual void check(const TrainArgs& args, int world_size) {}
  // The per-rank layout, for --dry-run's memory estimate and the record.
  virtual Layout layout(const TrainArgs& args, int world_size) const = 0;
  // How many data-parallel replicas share the global batch.
  virtual int64_t data_parallel_size(int world_size) const { return world_size; }
  // Builds the model (uninitialised); a strategy that splits layers builds its groups here.
  virtual Transformer make_model(const ModelConfig& config, World& world) { return Transformer(config); }
  virtual bool trains_mlp() const { return false; }  // --model mlp allowed
  // --dtype bf16: true when the strategy casts to bf16 itself (FSDP); otherwise the loop runs
  // the forward and backward under bf16 autocast with fp32 parameters.
  virtual bool mixed_precision() const { return false; }
  // Takes the freshly built, uninitialised model: initialises it (from args.seed, as one
  // process would) and returns the loop's view of the strategy. `lm` is null for the MLP.
  virtual std::unique_ptr<GradSync> wrap(Trainable& task, TransformerImpl* lm, World& world,
                                         const TrainArgs& args) = 0;
  // Strategy settings for the record's config and the header line.
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
};

struct TrainingExecutable {
  std::string name, description, default_model;
  bool default_activation_checkpointing = false;
  bool megatron_line = false;  // print Megatron-LM's iteration line instead of AWS's step line
};

// main() of a training executable; returns its exit code.
int training_main(int argc, char** argv, const TrainingExecutable& exe, Strategy& strategy);

}  // namespace dtbench
