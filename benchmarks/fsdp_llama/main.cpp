// fsdp_llama: AWS's FSDP test case in C++: a Llama (or any registry model) trained with
// fully sharded data parallelism (ZeRO-3), one process per device. AWS's defaults: lr 1e-4,
// min lr 1e-5, weight decay 0.2, betas 0.9/0.95, clip 1.0, cosine, activation checkpointing
// on, seed 12345.
//   launch/mpirun-local 2 build/benchmarks/fsdp_llama --model tiny --steps 20 --global-batch 8
#include <fmt/format.h>

#include "core/layers/parameters.h"
#include "core/parallel/fsdp/fsdp.h"
#include "core/report/errors.h"
#include "core/train/device.h"
#include "core/train/train_main.h"

using namespace dtbench;

namespace {

// The loop's view of FSDP: the optimizer updates this rank's slices of the shards.
class FsdpGradSync final : public GradSync {
 public:
  explicit FsdpGradSync(std::unique_ptr<FullyShardedDataParallel> fsdp) : fsdp_(std::move(fsdp)) {
    for (const auto& s : fsdp_->slices()) {
      tensors_.push_back({s.name, s.value, s.shape, s.start, fsdp_->checkpoint_writer()});
      grads_.push_back(s.grad);
    }
  }
  std::vector<TrainTensor> tensors() override { return tensors_; }
  void zero_grads() override { fsdp_->zero_grads(); }
  void prepare_backward(bool) override { fsdp_->begin_micro_step(); }
  void finish_backward() override { fsdp_->finish_micro_step(); }
  std::vector<at::Tensor> grads() override { return grads_; }
  Communicator* norm_comm() override { return &fsdp_->shard_comm(); }
  double comm_wait_s() const override { return fsdp_->comm_wait_s(); }

 private:
  std::unique_ptr<FullyShardedDataParallel> fsdp_;
  std::vector<TrainTensor> tensors_;
  std::vector<at::Tensor> grads_;
};

class Fsdp final : public Strategy {
 public:
  void add_flags(cxxopts::Options& o) override {
    o.add_options("fsdp")
        ("reshard-after-forward", "free each block's gathered parameters after its forward (off: ZeRO-2)",
         cxxopts::value<bool>()->default_value("true")->implicit_value("true"))
        ("prefetch", "issue the next block's all-gather one block ahead (forward and backward)",
         cxxopts::value<bool>()->default_value("true")->implicit_value("true"))
        ("hsdp-shard-size", "hybrid sharding: shard inside groups of N consecutive ranks, replicate across (0 = all)",
         cxxopts::value<int64_t>()->default_value("0"), "N");
  }
  void read_flags(const cxxopts::ParseResult& r, int world_size) override {
    opt_.reshard_after_forward = r["reshard-after-forward"].as<bool>();
    opt_.prefetch = r["prefetch"].as<bool>();
    opt_.shard_size = r["hsdp-shard-size"].as<int64_t>();
    DT_USAGE(opt_.shard_size >= 0 && (opt_.shard_size == 0 || world_size % opt_.shard_size == 0),
             "--hsdp-shard-size {}: must divide the world size {} (e.g. the ranks per node)", opt_.shard_size,
             world_size);
  }
  void check(const TrainArgs& args, int) override {
    opt_.activation_checkpointing = args.activation_checkpointing;
    opt_.compute_dtype = args.dtype == "bf16" ? at::kBFloat16 : at::kFloat;
  }
  bool mixed_precision() const override { return true; }
  Layout layout(const TrainArgs& a, int world_size) const override {
    const int64_t shard = opt_.shard_size == 0 ? world_size : opt_.shard_size;
    // Memory is sharded over the shard group; the data is split over the whole world.
    Layout l{shard, 1, 1, true, a.micro_batch, a.seq, a.activation_checkpointing, a.dtype == "bf16"};
    return l;
  }
  // Built on the meta device: each rank materialises only its shards (in wrap).
  Transformer make_model(const ModelConfig& config, World&) override {
    const MetaParameters meta;
    return Transformer(config);
  }
  std::unique_ptr<GradSync> wrap(Trainable& task, TransformerImpl* lm, World& world, const TrainArgs& args) override {
    const ModelConfig config = lm->config();
    const uint64_t seed = args.seed;
    opt_.device = rank_device(world);
    auto fsdp = std::make_unique<FullyShardedDataParallel>(
        *lm, lm->runner_units(), *world.comm, opt_, [config, seed](const std::string& name, at::Tensor values, int64_t start) {
          initialize_parameter_slice(config, seed, name, values, start);
        });
    lm->activation_checkpointing = false;  // FSDP recomputes its units itself
    lm->block_runner = fsdp.get();
    return std::make_unique<FsdpGradSync>(std::move(fsdp));
  }
  nlohmann::json describe() const override {
    return {{"name", "fsdp"},
            {"reshard_after_forward", opt_.reshard_after_forward},
            {"prefetch", opt_.prefetch},
            {"activation_checkpointing", opt_.activation_checkpointing},
            {"hsdp_shard_size", opt_.shard_size},
            {"compute_dtype", opt_.compute_dtype == at::kBFloat16 ? "bf16" : "fp32"}};
  }

 private:
  FsdpOptions opt_;
};

}  // namespace

int main(int argc, char** argv) {
  Fsdp fsdp;
  return training_main(
      argc, argv,
      {"fsdp_llama", "Fully sharded data-parallel (ZeRO-3) training of a Llama, one process per device.", "tiny", true},
      fsdp);
}
