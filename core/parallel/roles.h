// What a parallel strategy gives the training loop, as small roles (c10d keeps Store,
// Backend and Work apart the same way). The loop (core/train/trainer.h) drives them:
//
//   step:  reducer.zero_grads()
//          for each micro-batch (or schedule->forward_backward for all of them):
//            reducer.before_backward(last)  forward, backward  reducer.after_backward()
//          grads = shard.grads(); norm over shard.norm_comm(); clip; AdamW on shard.tensors()
//          shard.after_update()
//          loss summed over data.loss_comm
//
// A strategy implements each role in its own class; objects that several roles share (a
// pipeline driver drives the reducer) are referenced, and ParallelRun keeps them alive in
// the order they need (the schedule is destroyed first, the reducer last).
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <vector>

#include "core/parallel/train_tensor.h"

namespace dtbench {

class Communicator;

// Gradient communication around each micro-batch's backward.
class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  virtual void zero_grads() = 0;  // before each step's first micro-batch
  // Before a micro-batch's forward; `last` on the step's last one (where gradients reduce).
  virtual void before_backward(bool last) = 0;
  virtual void after_backward() = 0;
  // Seconds spent blocked on communication so far (exposed, not overlapped), where measured.
  virtual double exposed_comm_s() const { return 0; }
};

// The tensors this rank's optimizer updates and their gradients.
class OptimizerShard {
 public:
  virtual ~OptimizerShard() = default;
  // The same list for the whole run.
  virtual std::vector<TrainTensor> tensors() = 0;
  // Their gradients, in order, after the step's backward (undefined: none).
  virtual std::vector<at::Tensor> grads() = 0;
  // The communicator over which the gradients are owned disjointly, for the global norm;
  // nullptr when every rank holds whole gradients.
  virtual Communicator* norm_comm() = 0;
  // After the optimizer updated tensors() (and after a resume loaded them): ranks that
  // updated disjoint parts (a distributed optimizer) give every rank the whole result.
  virtual void after_update() {}
};

// A strategy that runs a step's micro-batches itself (a pipeline): forward and backward of
// all of them, each micro-batch's loss divided by `divisor`. `tokens(micro)` gives the
// micro-batch's token rows [micro_batch, seq + 1]. Returns this rank's summed (undivided)
// loss, 0 where no loss is computed.
class MicroBatchSchedule {
 public:
  virtual ~MicroBatchSchedule() = default;
  using Tokens = std::function<at::Tensor(int64_t micro)>;
  virtual double forward_backward(int64_t micro_batches, const Tokens& tokens, double divisor) = 0;
  // Figures for the record's metrics, given the median step time.
  virtual nlohmann::json metrics(double step_time_s) { return nlohmann::json::object(); }
};

// Which global samples this rank takes, and over which ranks the loss is summed.
struct DataPlacement {
  int64_t rank = 0;                   // among the data-parallel replicas
  Communicator* loss_comm = nullptr;  // null: the whole world
};

struct ParallelRun {
  std::unique_ptr<GradientReducer> reducer;
  std::unique_ptr<OptimizerShard> shard;
  std::unique_ptr<MicroBatchSchedule> schedule;  // null: the loop runs the micro-batches
  DataPlacement data;
};

// Parameters this rank updates whole (DDP, a tensor-parallel block): their gradients are
// their own .grad.
class LocalParameters final : public OptimizerShard {
 public:
  LocalParameters(std::vector<TrainTensor> tensors, Communicator* norm_comm)
      : tensors_(std::move(tensors)), norm_comm_(norm_comm) {}
  std::vector<TrainTensor> tensors() override { return tensors_; }
  std::vector<at::Tensor> grads() override {
    std::vector<at::Tensor> g;
    for (const TrainTensor& t : tensors_) g.push_back(t.value.grad());
    return g;
  }
  Communicator* norm_comm() override { return norm_comm_; }

 private:
  std::vector<TrainTensor> tensors_;
  Communicator* norm_comm_;
};

}  // namespace dtbench
