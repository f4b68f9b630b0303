// The flags every training executable shares (docs/ARCHITECTURE.md, "CLI"), resolved into a model
// config, a batch layout and an optimizer setup. Checked before any communication.
#pragma once

#include <cxxopts.hpp>

#include <string>

#include "core/data/batch_layout.h"
#include "core/model/config.h"
#include "core/train/adamw.h"
#include "core/train/lr_schedule.h"
#include "core/train/profile_window.h"
#include "core/train/train_state.h"

namespace dtbench {

struct TrainArgs {
  ModelConfig model;
  int64_t seq = 0, micro_batch = 1, global_batch = 0, steps = 10;
  LrSchedule lr;
  AdamWOptions adamw;
  double grad_clip = 1.0;
  uint64_t seed = 12345;
  std::string dtype = "fp32", data = "synthetic";
  int64_t log_every = 1;
  double peak_tflops = 0;  // 0: table or probe
  bool dry_run = false;
  bool activation_checkpointing = false;
  CheckpointArgs ckpt;
  StepRange profile_steps;  // --profile-steps A-B (CUDA; read with the device, core/app/train_run)
  std::string hw_profile;   // --hw-profile: "" none
};

// --model and the shape overrides --hidden --layers --heads --kv-heads --ffn --vocab.
void add_model_flags(cxxopts::Options& options, const std::string& default_model);
// The registry config with the overrides applied, validated (UsageError otherwise).
ModelConfig read_model_flags(const cxxopts::ParseResult& r);

// add_model_flags plus the training flags. Defaults are the benchmark's (AWS's FSDP case: lr 1e-4, min lr 1e-5, weight
// decay 0.2, betas 0.9/0.95, clip 1.0, cosine, seed 12345).
void add_train_flags(cxxopts::Options& options, const std::string& default_model,
                     bool default_activation_checkpointing = false);

// --model mlp (ddp_train's classifier) leaves `model` with name "mlp" and seq 1.
// Throws UsageError naming the flag; `dp` is the data-parallel size (global batch =
// micro-batch x dp x accumulation steps, anything else is an error).
TrainArgs read_train_flags(const cxxopts::ParseResult& r, int64_t dp, BatchLayout* layout);

}  // namespace dtbench
