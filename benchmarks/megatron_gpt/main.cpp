// megatron_gpt: Megatron-LM style training of a GPT or Llama: tensor parallelism (--tp,
// with sequence parallelism --sp) inside data parallelism, on the tp x pp x dp process
// grid; prints Megatron's iteration line.
//   launch/mpirun-local 4 build/benchmarks/megatron_gpt --model tiny_gpt --tp 2 --sp --global-batch 8
#include <fmt/format.h>

#include "core/comm/process_grid.h"
#include "core/parallel/ddp/ddp.h"
#include "core/report/errors.h"
#include "core/train/train_main.h"

using namespace dtbench;

namespace {

// Gradients: averaged over the data-parallel group (DDP buckets during backward); with
// sequence parallelism the replicated parameters' gradients are partial sums over the
// tensor-parallel group's sequence chunks and are summed over it once per step.
class MegatronGradSync final : public GradSync {
 public:
  MegatronGradSync(TransformerImpl& model, ProcessGrid& grid, bool sp) : grid_(grid), sp_(sp) {
    for (auto& item : model.named_parameters()) {
      const Sharding& s = model.shardings().at(item.key());
      params_.push_back(item.value());
      TrainTensor t{item.key(), item.value(), item.value().sizes().vec(), 0, false};
      t.in_norm = s.dim >= 0 || grid.tp_rank == 0;  // a replicated tensor counts once per tp group
      tensors_.push_back(t);
      if (s.dim < 0 && sp_ && grid.tp > 1) replicated_.push_back(params_.size() - 1);
    }
    ddp_ = std::make_unique<DistributedDataParallel>(model, *grid.dp_comm);
  }
  std::vector<TrainTensor> tensors() override { return tensors_; }
  void zero_grads() override {
    for (auto& p : params_) p.mutable_grad() = at::Tensor();
  }
  void prepare_backward(bool sync) override {
    sync_ = sync;
    ddp_->prepare_backward(sync);
  }
  void finish_backward() override {
    ddp_->finish_backward();
    if (!sync_) return;
    at::NoGradGuard no_grad;
    for (std::size_t i : replicated_)
      if (params_[i].grad().defined()) grid_.tp_comm->all_reduce(params_[i].mutable_grad(), ReduceOp::kSum)->wait();
  }
  std::vector<at::Tensor> grads() override {
    std::vector<at::Tensor> g;
    for (auto& p : params_) g.push_back(p.grad());
    return g;
  }
  Communicator* norm_comm() override { return grid_.mp_comm.get(); }
  int64_t dp_rank(Communicator&) const override { return grid_.dp_rank; }
  Communicator* dp_comm() override { return grid_.dp_comm.get(); }

 private:
  ProcessGrid& grid_;
  bool sp_, sync_ = false;
  std::unique_ptr<DistributedDataParallel> ddp_;
  std::vector<at::Tensor> params_;
  std::vector<TrainTensor> tensors_;
  std::vector<std::size_t> replicated_;
};

class Megatron final : public Strategy {
 public:
  void add_flags(cxxopts::Options& o) override {
    o.add_options("megatron")
        ("tp", "tensor-parallel size (adjacent ranks; divides heads, kv-heads and ffn)",
         cxxopts::value<int64_t>()->default_value("1"), "N")
        ("pp", "pipeline-parallel stages", cxxopts::value<int64_t>()->default_value("1"), "N")
        ("sp", "sequence parallelism in the tensor-parallel group (norms and residuals on 1/tp of the sequence)",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"));
  }
  void read_flags(const cxxopts::ParseResult& r, int world_size) override {
    tp_ = r["tp"].as<int64_t>();
    pp_ = r["pp"].as<int64_t>();
    sp_ = r["sp"].as<bool>();
    DT_USAGE(tp_ >= 1 && pp_ >= 1, "--tp {} --pp {}: sizes are at least 1", tp_, pp_);
    DT_USAGE(world_size % (tp_ * pp_) == 0, "--tp {} x --pp {} = {} does not divide the world size {}", tp_, pp_,
             tp_ * pp_, world_size);
    DT_USAGE(pp_ == 1, "--pp {}: pipeline parallelism is not in megatron_gpt yet; use --pp 1", pp_);
    DT_USAGE(!sp_ || tp_ > 1, "--sp needs --tp of 2 or more (it splits the sequence over the tensor-parallel group)");
  }
  void check(const TrainArgs& a, int) override {
    const ModelConfig& c = a.model;
    DT_USAGE(c.heads % tp_ == 0 && c.kv_heads % tp_ == 0,
             "--tp {}: must divide the heads ({}) and the kv-heads ({}) of {}", tp_, c.heads, c.kv_heads, c.name);
    DT_USAGE(c.ffn % tp_ == 0, "--tp {}: must divide the MLP width {} of {}", tp_, c.ffn, c.name);
    DT_USAGE(!sp_ || a.seq % tp_ == 0, "--sp: the sequence {} must divide by --tp {}", a.seq, tp_);
    DT_USAGE(!a.activation_checkpointing || tp_ == 1,
             "--activation-checkpointing with --tp: not in megatron_gpt yet; drop one");
  }
  int64_t data_parallel_size(int world_size) const override { return world_size / (tp_ * pp_); }
  Layout layout(const TrainArgs& a, int world_size) const override {
    return Layout{world_size / (tp_ * pp_), tp_, pp_, false, a.micro_batch, a.seq, a.activation_checkpointing,
                  a.dtype == "bf16"};
  }
  bool checkpoints() const override { return false; }
  Transformer make_model(const ModelConfig& config, World& world) override {
    grid_ = make_process_grid(*world.comm, tp_, pp_);
    return Transformer(config, TensorParallel{grid_.tp_comm.get(), sp_});
  }
  std::unique_ptr<GradSync> wrap(Trainable&, TransformerImpl* lm, World&, const TrainArgs& args) override {
    initialize_parameters(*lm, args.seed);  // each rank draws its block of every parameter
    return std::make_unique<MegatronGradSync>(*lm, grid_, sp_);
  }
  nlohmann::json describe() const override {
    return {{"name", "megatron"}, {"tp", tp_}, {"pp", pp_}, {"sp", sp_}};
  }

 private:
  int64_t tp_ = 1, pp_ = 1;
  bool sp_ = false;
  ProcessGrid grid_;
};

}  // namespace

int main(int argc, char** argv) {
  Megatron megatron;
  TrainingExecutable exe{"megatron_gpt", "Megatron-LM style tensor/sequence/data-parallel training of a GPT or Llama.",
                         "tiny_gpt"};
  exe.megatron_line = true;
  return training_main(argc, argv, exe, megatron);
}
