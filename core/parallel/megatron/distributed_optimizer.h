// The distributed optimizer (ZeRO-1) over a data-parallel group: this rank's parameters
// laid end to end and padded to a multiple of dp; dp rank r owns the range
// [r·shard, (r+1)·shard) and the optimizer updates, and keeps AdamW state for, that range
// only. After the update one all_gather gives every replica the whole parameters again.
#pragma once

#include <vector>

#include "core/comm/communicator.h"
#include "core/parallel/roles.h"

namespace dtbench {

class DistributedOptimizer final : public OptimizerShard {
 public:
  // `whole`: this rank's parameters (TrainTensor::value is the parameter itself), with
  // `writer` saying whether this rank's copy is the one a replica writes to checkpoints
  // (every replica writes its own ranges). `norm_comm`: where the ranges are disjoint (the
  // whole world under tensor and pipeline parallelism).
  DistributedOptimizer(const std::vector<TrainTensor>& whole, Communicator& dp, Communicator* norm_comm);

  // This rank's ranges: a range of the flattened parameter, or of its block of columns.
  std::vector<TrainTensor> tensors() override { return owned_; }
  std::vector<at::Tensor> grads() override;
  Communicator* norm_comm() override { return norm_comm_; }
  // Gathers every rank's updated ranges into every rank's parameters.
  void after_update() override;

  int64_t shard_elements() const { return shard_; }

 private:
  struct Range {
    std::size_t param;
    int64_t start, count, flat;  // within the parameter; its place in the flat order
  };
  Communicator& dp_;
  Communicator* norm_comm_;
  std::vector<at::Tensor> params_;
  std::vector<Range> ranges_;
  std::vector<TrainTensor> owned_;
  int64_t shard_ = 0;
};

}  // namespace dtbench
