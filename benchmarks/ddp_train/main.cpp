// ddp_train: AWS's DDP test case in C++: any registry model, or its 784-512-512-10 MLP
// (--model mlp), trained with data parallelism (bucketed all-reduce overlapping backward),
// one process per device.
//   launch/mpirun-local 2 build/benchmarks/ddp_train --model tiny --steps 20 --global-batch 8
#include "core/model/mlp_classifier.h"
#include "core/parallel/ddp/ddp.h"
#include "core/report/clock.h"
#include "core/train/train_main.h"

using namespace dtbench;

namespace {

// Every rank holds whole parameters and, after backward, the averaged gradients.
class DdpGradSync final : public GradSync {
 public:
  DdpGradSync(torch::nn::Module& module, Communicator& comm) : ddp_(module, comm) {
    for (auto& item : module.named_parameters()) {
      params_.push_back(item.value());
      tensors_.push_back({item.key(), item.value(), item.value().sizes().vec(), 0, comm.rank() == 0});
    }
    ddp_.broadcast_parameters();
  }
  std::vector<TrainTensor> tensors() override { return tensors_; }
  void zero_grads() override {
    for (auto& p : params_) p.mutable_grad() = at::Tensor();  // DDP leaves grads as bucket views
  }
  void prepare_backward(bool sync) override { ddp_.prepare_backward(sync); }
  void finish_backward() override {
    const Stopwatch waited;  // finish_backward only waits for the buckets still in flight
    ddp_.finish_backward();
    comm_wait_s_ += waited.elapsed_s();
  }
  double comm_wait_s() const override { return comm_wait_s_; }
  std::vector<at::Tensor> grads() override {
    std::vector<at::Tensor> g;
    for (auto& p : params_) g.push_back(p.grad());
    return g;
  }
  Communicator* norm_comm() override { return nullptr; }  // every rank holds whole gradients

 private:
  DistributedDataParallel ddp_;
  std::vector<at::Tensor> params_;
  std::vector<TrainTensor> tensors_;
  double comm_wait_s_ = 0;
};

class Ddp final : public Strategy {
 public:
  Layout layout(const TrainArgs& a, int world_size) const override {
    return Layout{world_size, 1, 1, false, a.micro_batch, a.seq, a.activation_checkpointing, a.dtype == "bf16"};
  }
  bool trains_mlp() const override { return true; }
  std::unique_ptr<GradSync> wrap(Trainable& task, TransformerImpl* lm, World& world, const TrainArgs& args) override {
    if (lm)
      initialize_parameters(*lm, args.seed);
    else
      initialize_parameters(dynamic_cast<MlpClassifierImpl&>(task.module()), args.seed);
    return std::make_unique<DdpGradSync>(task.module(), *world.comm);
  }
  nlohmann::json describe() const override { return {{"name", "ddp"}}; }
};

}  // namespace

int main(int argc, char** argv) {
  Ddp ddp;
  return training_main(argc, argv,
                       {"ddp_train", "Data-parallel training of a registry model, one process per device.", "tiny"},
                       ddp);
}
