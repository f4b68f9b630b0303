// FSDP as a strategy (fsdp.h): the model is built on the meta device, each rank
// materialises only its shards, and the optimizer updates this rank's slices of them;
// AWS's FSDP test case (fsdp_llama).
#pragma once

#include <memory>

#include "core/parallel/fsdp/fsdp.h"
#include "core/parallel/strategy.h"

namespace dtbench {

// Gathers and reduce-scatters around each micro-batch; owns the sharded model.
class FsdpReducer final : public GradientReducer {
 public:
  explicit FsdpReducer(std::unique_ptr<FullyShardedDataParallel> fsdp) : fsdp_(std::move(fsdp)) {}
  FullyShardedDataParallel& fsdp() { return *fsdp_; }
  void zero_grads() override { fsdp_->zero_grads(); }
  void before_backward(bool) override { fsdp_->begin_micro_step(); }
  void after_backward() override { fsdp_->finish_micro_step(); }
  double exposed_comm_s() const override { return fsdp_->comm_wait_s(); }

 private:
  std::unique_ptr<FullyShardedDataParallel> fsdp_;
};

// This rank's slices of the shards and their gradient slices; the norm spans the shard group.
class FsdpShards final : public OptimizerShard {
 public:
  explicit FsdpShards(FullyShardedDataParallel& fsdp);
  std::vector<TrainTensor> tensors() override { return tensors_; }
  std::vector<at::Tensor> grads() override { return grads_; }
  Communicator* norm_comm() override { return &fsdp_.shard_comm(); }

 private:
  FullyShardedDataParallel& fsdp_;
  std::vector<TrainTensor> tensors_;
  std::vector<at::Tensor> grads_;
};

// FsdpOptions without what the run decides (activation checkpointing, dtype, device).
struct FsdpSettings {
  bool reshard_after_forward = true;
  bool prefetch = true;
  int64_t shard_size = 0;  // hybrid sharding: ranks per shard group; 0 = the whole world
  int64_t ep = 1;          // expert parallelism: groups of ep consecutive ranks split the experts
};

class FsdpStrategy final : public Strategy {
 public:
  // UsageError when shard_size does not divide the world.
  FsdpStrategy(const FsdpSettings& settings, int world_size);
  void check(const RunShape& shape, int world_size) override;
  bool mixed_precision() const override { return true; }
  ParallelLayout layout(const RunShape& shape, int world_size) const override;
  // On the meta device: each rank materialises only its shards (in wrap).
  Transformer make_model(const ModelConfig& config, World& world) override;
  ParallelRun wrap(torch::nn::Module& module, TransformerImpl* lm, const WrapContext& ctx) override;
  nlohmann::json describe() const override;

 private:
  FsdpOptions opt_;
  int64_t ep_ = 1;
  std::unique_ptr<Communicator> ep_comm_, expert_comm_;  // expert parallelism (ep > 1)
};

}  // namespace dtbench
