// Data parallelism (docs/ARCHITECTURE.md, "DDP"): every rank holds the whole model; gradients are
// averaged across ranks in buckets while backward still runs.
//
// Parameters go into buckets in reverse registration order (roughly the order backward
// produces their gradients): the first bucket up to ~1 MiB, so communication starts early,
// then ~25 MiB each. A gradient hook (Tensor::register_hook: it sees each incoming
// gradient before autograd accumulates it) adds the gradient, plus what earlier
// micro-steps accumulated in .grad, into the parameter's slice of its bucket; when a
// bucket has every gradient it expects, its all_reduce(avg) is issued, buckets in order
// so every rank issues the same sequence. How many gradients a parameter receives per
// backward (a tied embedding gets two, an unused parameter none) is learned in the first
// synchronised backward, which reduces all buckets at its end. Micro-steps that only
// accumulate (sync = false) communicate nothing.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>
#include <vector>

#include "core/comm/communicator.h"

namespace dtbench {

struct DdpOptions {
  int64_t first_bucket_bytes = 1 << 20;
  int64_t bucket_bytes = 25 << 20;
  // Multiplies the averaged gradients: expert parameters under expert parallelism, averaged
  // over their replicas only, also carry the other expert ranks' tokens (1/ep).
  double scale = 1.0;
};

class DistributedDataParallel {
 public:
  DistributedDataParallel(torch::nn::Module& module, Communicator& comm, DdpOptions options = {});
  // Over some parameters only (each in one DistributedDataParallel).
  DistributedDataParallel(std::vector<at::Tensor> params, Communicator& comm, DdpOptions options = {});
  ~DistributedDataParallel();

  // Makes every rank start from rank 0's parameters.
  void broadcast_parameters();

  // Before a step's first micro-step: clears .grad (a view of the bucket after a step).
  void zero_grads();

  // Before a micro-step's backward; `sync` on the last micro-step of an optimizer step.
  void prepare_backward(bool sync);

  // After that backward: waits for the buckets and leaves the rank-averaged gradients in
  // each parameter's .grad, as a view of its bucket. Does nothing after a backward
  // without sync. Clear .grad (undefined) before the next step's first backward.
  void finish_backward();

  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  struct Bucket {
    at::Tensor flat;
    std::vector<std::size_t> params;
    int pending = 0;
    bool launched = false;
    std::shared_ptr<Work> work;
  };
  void on_grad(std::size_t i, const at::Tensor& grad);
  void launch_ready_buckets();

  Communicator& comm_;
  double scale_;
  std::vector<at::Tensor> params_;
  std::vector<std::size_t> bucket_of_;
  std::vector<at::Tensor> views_;  // each parameter's slice of its bucket, shaped like it
  std::vector<Bucket> buckets_;
  std::vector<int> expected_, seen_;
  std::size_t next_launch_ = 0;
  bool sync_ = false, discovered_ = false;
};

}  // namespace dtbench
