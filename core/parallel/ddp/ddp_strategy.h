// DDP as a strategy: every rank holds whole parameters and, after each step's backward, the
// rank-averaged gradients (ddp.h); AWS's DDP test case (ddp_train).
#pragma once

#include <memory>

#include "core/comm/wait_timer.h"
#include "core/parallel/ddp/ddp.h"
#include "core/parallel/strategy.h"

namespace dtbench {

// The buckets' all-reduce around backward; the time computation waits for it is exposed
// (core/comm/wait_timer.h: host time on CPU, the compute stream's stall on CUDA).
class DdpReducer final : public GradientReducer {
 public:
  DdpReducer(torch::nn::Module& module, Communicator& comm) : ddp_(module, comm), waits_(comm.device()) {}
  DistributedDataParallel& ddp() { return ddp_; }
  void zero_grads() override { ddp_.zero_grads(); }
  void before_backward(bool last) override { ddp_.prepare_backward(last); }
  void after_backward() override;
  double exposed_comm_s() const override { return waits_.total_s(); }

 private:
  DistributedDataParallel ddp_;
  WaitTimer waits_;
};

class DdpStrategy final : public Strategy {
 public:
  ParallelLayout layout(const RunShape& shape, int world_size) const override;
  bool trains_mlp() const override { return true; }
  ParallelRun wrap(torch::nn::Module& module, TransformerImpl* lm, const WrapContext& ctx) override;
  nlohmann::json describe() const override { return {{"name", "ddp"}}; }
};

}  // namespace dtbench
