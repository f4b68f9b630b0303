// The training loop: micro-batches and gradient accumulation, the term-weighted loss over
// the global batch, global gradient-norm clipping, AdamW with the LR schedule, the step
// line and the record's steps and metrics. Parallel strategies plug in through GradSync.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "core/comm/communicator.h"
#include "core/train/train_args.h"
#include "core/train/trainable.h"

namespace dtbench {

// What the loop needs from a parallel strategy.
class GradSync {
 public:
  virtual ~GradSync() = default;
  // The optimizer's tensors on this rank; the same list for the whole run.
  virtual std::vector<TrainTensor> tensors() = 0;
  virtual void zero_grads() = 0;  // before each step's first micro-step
  // Around each micro-step: before its forward (`sync` on the step's last micro-step) and
  // after its backward.
  virtual void prepare_backward(bool sync) = 0;
  virtual void finish_backward() = 0;
  // The gradients of tensors(), in order, after finish_backward (undefined: none).
  virtual std::vector<at::Tensor> grads() = 0;
  // Seconds spent blocked on communication so far (exposed, not overlapped), where the
  // strategy measures it; the loop records it per step.
  virtual double comm_wait_s() const { return 0; }
  // The communicator over which gradients are owned disjointly (shards), for the global
  // norm; nullptr when every rank holds whole gradients.
  virtual Communicator* norm_comm() = 0;
  // This rank's place among the data-parallel replicas (the samples it takes) and their
  // communicator (the loss is summed over it); null: every rank is its own replica.
  virtual int64_t dp_rank(Communicator& world) const { return world.rank(); }
  // A strategy that schedules a step's micro-batches itself (a pipeline) returns true and
  // runs forward and backward of all of them in forward_backward, each micro-batch's loss
  // divided by `divisor`; it returns this rank's summed (undivided) loss, 0 where none is
  // computed. The loop then calls neither prepare_backward nor finish_backward.
  virtual bool schedules_micro_batches() const { return false; }
  virtual double forward_backward(Trainable& task, const BatchLayout& layout, int64_t step, int64_t dp_rank,
                                  double divisor) {
    return 0;
  }
  // After the optimizer has updated tensors(): a strategy whose ranks update disjoint parts
  // (a distributed optimizer) gives every rank the whole result here.
  virtual void after_step() {}
  // Strategy figures for the record's metrics, given the median step time.
  virtual nlohmann::json metrics(double step_time_s) { return nlohmann::json::object(); }
  virtual Communicator* dp_comm() { return nullptr; }
};

struct TrainContext {
  Communicator* world = nullptr;      // every rank
  at::Device device = at::kCPU;       // where this rank computes
  bool autocast_bf16 = false;         // run each step under bf16 autocast (core/train/autocast.h)
  Communicator* loss_comm = nullptr;  // over which the loss sums sum (the data-parallel group; null: world)
  int64_t dp_rank = 0;
  bool megatron_line = false;  // the step line in Megatron-LM's iteration format
  double peak_flops_per_device = 0;  // for MFU
  std::string peak_source;
};

// Trains and returns {"steps": [...], "metrics": {...}, "resumed_from": path or null};
// rank 0 prints the step lines. With --resume it starts after the newest complete
// checkpoint; with --ckpt-every N it saves after every N-th step (see checkpoint.h).
//
// Test hook: DTBENCH_KILL_AFTER_STEP=N makes every rank SIGKILL itself once step N (1-based)
// and its checkpoint are done, as a node failure would.
nlohmann::json train(Trainable& task, GradSync& sync, const TrainArgs& args, const BatchLayout& layout,
                     const TrainContext& ctx);


}  // namespace dtbench
