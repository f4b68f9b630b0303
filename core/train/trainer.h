// The training loop: micro-batches and gradient accumulation, the term-weighted loss over
// the global batch, global gradient-norm clipping, AdamW with the LR schedule, the step
// line and the record's steps and metrics. Parallel strategies plug in through the roles of
// core/parallel/roles.h.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "core/comm/communicator.h"
#include "core/parallel/roles.h"
#include "core/train/train_args.h"
#include "core/train/trainable.h"

namespace dtbench {

// The figures of one step, as the step line shows them.
struct StepFigures {
  int64_t step = 0, steps = 0, global_batch = 0;  // step is 0-based
  double loss = 0, lr = 0, grad_norm = 0, time_s = 0, tokens_per_s = 0, tflops_per_device = 0, mfu = 0;
  int64_t mem_bytes = 0;
  double expert_imbalance = 0;  // a mixture of experts: tokens of the busiest expert / the mean; 0 dense
};

// Formats the step line rank 0 prints every --log-every steps (without the newline).
using StepLine = std::function<std::string(const StepFigures&)>;

// AWS's step line first (log monitors read it), then the extended figures:
// "Batch 12 Loss: 7.91234, Speed: 3.52 samples/sec, lr: 0.000100 | tokens/s ... | step 0.284 s".
std::string aws_step_line(const StepFigures& f);
// " | experts max/mean 1.37" for a mixture of experts, "" otherwise: every step line ends with it.
std::string expert_imbalance_text(const StepFigures& f);

struct TrainContext {
  Communicator* world = nullptr;  // every rank
  at::Device device = at::kCPU;   // where this rank computes
  bool autocast_bf16 = false;     // run each step under bf16 autocast (core/train/autocast.h)
  StepLine step_line = aws_step_line;
  double peak_flops_per_device = 0;  // for MFU
  std::string peak_source;
  std::function<void(const nlohmann::json& step)> on_step;  // each step's record entry, once done
};

// Trains and returns {"steps": [...], "metrics": {...}, "resumed_from": path or null};
// rank 0 prints the step lines. With --resume it starts after the newest complete
// checkpoint; with --ckpt-every N it saves after every N-th step (see checkpoint.h).
//
// Test hooks:
//   DTBENCH_KILL_AFTER_STEP=N makes every rank SIGKILL itself once step N (1-based) and its
//   checkpoint are done, as a node failure would;
//   DTBENCH_SLOW_STEP=F (0..10) plants a slowdown of exactly that fraction: every rank spins,
//   inside the timed step, for F x the time its step took so far (0.25: steps 25 % slower),
//   which is what the nightly gate's sensitivity is measured against.
nlohmann::json train(Trainable& task, ParallelRun& run, const TrainArgs& args, const BatchLayout& layout,
                     const TrainContext& ctx);

}  // namespace dtbench
