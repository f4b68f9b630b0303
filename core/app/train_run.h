// The run scaffold of every training executable (ddp_train, fsdp_llama, megatron_gpt):
// flags, launch discovery, checks before any communication, --dry-run, the world, the model
// and its data, the loop, the summary line and the result record. A main supplies only what
// differs: its strategy's flags and how they make a strategy (core/parallel/strategy.h).
#pragma once

#include <cxxopts.hpp>

#include <memory>
#include <string>

#include "core/parallel/strategy.h"
#include "core/train/trainer.h"

namespace dtbench {

// A main's binding of flags to one strategy.
class StrategyFlags {
 public:
  virtual ~StrategyFlags() = default;
  virtual void add(cxxopts::Options& options) {}
  // Reads the strategy's flags and makes it (UsageError naming the flag); before the
  // training flags, which depend on its data-parallel size.
  virtual std::unique_ptr<Strategy> make(const cxxopts::ParseResult& flags, int world_size) = 0;
};

struct TrainingExecutable {
  std::string name, description, default_model;
  bool default_activation_checkpointing = false;
  StepLine step_line = aws_step_line;
};

// main() of a training executable; returns its exit code.
int training_main(int argc, char** argv, const TrainingExecutable& exe, StrategyFlags& flags);

}  // namespace dtbench
