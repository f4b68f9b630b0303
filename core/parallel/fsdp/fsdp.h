// Fully sharded data parallelism (ZeRO-3; docs/ARCHITECTURE.md, "FSDP").
//
// Each unit owns one flat parameter, padded to a multiple of the shard group's size. The
// units are those the model runs through its BlockRunner (every block, then the head: final
// norm and output layer, when not tied to the embedding), and the root unit, which holds all
// other parameters (the embeddings; a tied head). The head is a unit of its own, as
// torchtitan shards it, because it is last in forward and first in backward: its all-gather
// is prefetched during the last block's forward and its reduce-scatter runs during the
// blocks' backward, where in the root both would wait at the step's edges. A rank keeps only its shard in fp32, its
// gradient shard, and (through the trainer) the optimizer state of that shard. The module's own parameters become views
// into the unit's gathered flat buffer, whose storage exists only while the unit is gathered: before a block runs
// forward its shard is all-gathered (in the compute dtype), after forward it is freed (--reshard-after-forward; off
// keeps it until its backward, ZeRO-2), before its backward it is gathered again, and its gradients are
// reduce-scattered (fp32, average) into the gradient shard. The next unit's all-gather is issued one unit ahead in
// forward and in backward (--prefetch), so communication overlaps compute.
//
// A unit is one autograd function around its call: forward runs it on a detached input
// (keeping its inner graph, or, for a block under activation checkpointing, only its
// input); backward regathers, differentiates the unit (recomputing it if checkpointed)
// with its parameters' .grad preset to views of one flat buffer, so autograd accumulates
// the gradients in place where the reduce-scatter reads them. The root unit's gradients
// accumulate the same way over the whole backward (the embedding's comes last) and are
// reduce-scattered by finish_micro_step(). Alive at once, beyond the shards: the root's
// full parameters and gradient, two units' full parameters (the one running, the one
// prefetched) and two units' flat gradients (the one computing, the one being reduced).
//
// Hybrid sharding (shard_size < world): shards inside groups of shard_size consecutive
// ranks, replicas across groups; gradients are reduce-scattered inside the group, then
// all-reduced across replicas.
//
// Expert parallelism (expert_comm set): a rank holds only its experts of each MoE block, so
// a unit's expert parameters form a companion unit of their own, sharded over expert_comm
// (the ranks that hold the same experts), gathered, freed and reduce-scattered with the
// unit. Their averaged gradients are scaled by expert_grad_scale (1/ep): an expert's
// gradient already sums the tokens of its ep ranks. Dense parameters stay sharded over the
// world, so every shard is still disjoint across the world (the gradient norm).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/comm/communicator.h"
#include "core/comm/wait_timer.h"
#include "core/layers/block_runner.h"

namespace dtbench {

struct FsdpOptions {
  bool reshard_after_forward = true;
  bool prefetch = true;
  bool activation_checkpointing = false;
  int64_t shard_size = 0;                     // ranks per shard group; 0 = the whole world
  at::ScalarType compute_dtype = at::kFloat;  // of gathered parameters (bf16 on CUDA)
  // Where the shards and the gathered buffers live. The module's parameters are either there
  // already or on the meta device (built inside MetaParameters: never materialised whole).
  at::Device device = at::kCPU;
  Communicator* expert_comm = nullptr;  // expert parallelism: the replicas of this rank's experts
  double expert_grad_scale = 1.0;
};

// Fills elements [start, start + values.numel()) of parameter `name` (flattened) into the
// 1-D `values`: how shards are initialised without materialising whole parameters.
using ShardInit = std::function<void(const std::string& name, at::Tensor values, int64_t start)>;

class FullyShardedDataParallel final : public BlockRunner {
 public:
  // `units`: what the model runs through run(), in forward order (runner_units()). Install
  // this object as the model's BlockRunner. Collective: splits `world` for hybrid sharding.
  // Every shard is filled by `init`; the parameters' own values are never read.
  FullyShardedDataParallel(torch::nn::Module& module, const std::vector<RunnerUnit>& units, Communicator& world,
                           FsdpOptions options, const ShardInit& init);
  ~FullyShardedDataParallel() override;

  // The part of parameter `name` this rank owns: elements [start, start + value.numel())
  // of the flattened parameter of shape `shape`, as views of the shards.
  struct Slice {
    std::string name;
    at::Tensor value, grad;
    std::vector<int64_t> shape;
    int64_t start;
  };
  const std::vector<Slice>& slices() const { return slices_; }
  // Whether this rank's shards are the ones checkpoints keep (the first replica group).
  bool checkpoint_writer() const { return replica_index_ == 0; }
  // The communicator across which the shards are disjoint (the global gradient norm).
  Communicator& shard_comm() { return *shard_comm_; }

  void zero_grads();         // before a step's first micro-step
  void begin_micro_step();   // before forward: gathers the root, prefetches the first block
  void finish_micro_step();  // after backward: reduces the root, waits, frees

  at::Tensor run(int64_t index, const BlockCall& call, const at::Tensor& x) override;

  // Called by the unit's autograd function.
  at::Tensor unit_forward(void* ctx, int64_t unit, const at::Tensor& x);
  at::Tensor unit_backward(void* ctx, int64_t unit, const at::Tensor& grad_y);

  // Bytes of this rank's shards (parameters + gradients), for reports.
  int64_t shard_bytes() const;
  // Seconds computation has waited for gathers and reductions so far: the communication that
  // prefetching and overlap did not hide (on CUDA the compute stream's stalls, measured by
  // events: core/comm/wait_timer.h; read it after the step).
  double comm_wait_s() const { return waits_.total_s(); }

 private:
  struct Unit;
  std::unique_ptr<Unit> make_unit(int64_t index, const std::vector<at::Tensor>& params, Communicator& comm,
                                  bool recompute, double grad_scale,
                                  const std::unordered_map<const c10::TensorImpl*, std::string>& name_of,
                                  const ShardInit& init);
  void gather_async(Unit& u);
  void gather(Unit& u);
  void release(Unit& u);
  at::Tensor flat_grad(Unit& u);
  void reduce_async(Unit& u, at::Tensor flat, bool drain = true);
  void finish_reduce(Unit& u);
  void drain_reductions();

  FsdpOptions opt_;
  std::unique_ptr<Communicator> shard_owned_, replica_comm_;
  Communicator* shard_comm_ = nullptr;
  int64_t replica_index_ = 0;
  std::vector<std::unique_ptr<Unit>> units_;       // [0] root, [1 + i] the model's unit i
  std::vector<std::unique_ptr<Unit>> companions_;  // expert parallelism: units' expert parameters
  std::vector<Slice> slices_;
  std::vector<Unit*> reducing_;  // units whose reduce-scatter is in flight, oldest first
  at::Tensor root_grad_;         // the root unit's flat gradient during a micro-step
  WaitTimer waits_;
};

}  // namespace dtbench
