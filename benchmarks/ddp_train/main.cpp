// ddp_train: AWS's DDP test case in C++: any registry model, or its 784-512-512-10 MLP
// (--model mlp), trained with data parallelism (bucketed all-reduce overlapping backward),
// one process per device.
//   launch/mpirun-local 2 build/benchmarks/ddp_train --model tiny --steps 20 --global-batch 8
#include <ATen/Context.h>
#include <fmt/format.h>

#include <cstdio>

#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/app/run_record.h"
#include "core/model/mlp_classifier.h"
#include "core/model/plan.h"
#include "core/parallel/ddp/ddp.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/result.h"
#include "core/report/system_info.h"
#include "core/train/trainer.h"

using namespace dtbench;

namespace {

// Every rank holds whole parameters and, after backward, the averaged gradients.
class DdpGradSync final : public GradSync {
 public:
  DdpGradSync(torch::nn::Module& module, DistributedDataParallel& ddp, int rank) : ddp_(ddp) {
    for (auto& item : module.named_parameters()) {
      params_.push_back(item.value());
      tensors_.push_back({item.key(), item.value(), item.value().sizes().vec(), 0, rank == 0});
    }
  }
  std::vector<TrainTensor> tensors() override { return tensors_; }
  void zero_grads() override {
    for (auto& p : params_) p.mutable_grad() = at::Tensor();  // DDP leaves grads as bucket views
  }
  void prepare_backward(bool sync) override { ddp_.prepare_backward(sync); }
  void finish_backward() override { ddp_.finish_backward(); }
  std::vector<at::Tensor> grads() override {
    std::vector<at::Tensor> g;
    for (auto& p : params_) g.push_back(p.grad());
    return g;
  }
  Communicator* norm_comm() override { return nullptr; }  // every rank holds whole gradients

 private:
  DistributedDataParallel& ddp_;
  std::vector<at::Tensor> params_;
  std::vector<TrainTensor> tensors_;
};

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("ddp_train", [&] {
    cxxopts::Options options("ddp_train", "Data-parallel training of a registry model, one process per device.");
    add_common_flags(options);
    add_train_flags(options, "tiny");
    auto flags = parse_flags(options, argc, argv);
    CommonArgs common = read_common_flags(flags);
    const EnvMap env = process_env();
    LaunchContext lctx;
    lctx.visible_gpus = at::getNumGPUs();
    LaunchInfo launch = discover_launch(env, common.launch, lctx);
    BatchLayout layout;
    TrainArgs args = read_train_flags(flags, launch.world_size, &layout);
    Layout plan{launch.world_size, 1, 1, false, args.micro_batch, args.seq, args.activation_checkpointing,
                args.dtype == "bf16"};
    const bool mlp = args.model.name == "mlp";
    const int64_t n_params = mlp ? MlpClassifierImpl::parameter_count() : parameter_count(args.model);
    if (args.dry_run) {
      if (mlp)
        std::printf("model          mlp (784-512-512-10 MLP, AWS's DDP test case)\nparameters     %lld\n"
                    "flops/sample   %.4e (forward + backward)\n",
                    static_cast<long long>(n_params), MlpClassifierImpl::flops_per_sample());
      else
        std::fputs(describe_plan(args.model, plan).c_str(), stdout);
      return 0;
    }
    validate_world(launch, common.world, env);
    DT_USAGE(common.world.device == "cpu", "--device {}: ddp_train runs on CPU so far; the GPU path is its own issue",
             common.world.device);
    DT_USAGE(!mlp || args.data == "synthetic", "--model mlp trains on synthetic MNIST-shaped data; drop --data {}",
             args.data);
    std::unique_ptr<TokenSource> data;
    if (!mlp) data = open_token_source(args.data, args.model.vocab, args.seq, args.seed);
    apply_threads(common, launch);

    const Stopwatch clock;
    nlohmann::json record = new_result_record("ddp_train");
    auto world = init_world(launch, common.world, env);
    fill_run_record(record, flags, common, *world);
    record["config"]["model_config"] =
        mlp ? nlohmann::json{{"model", "mlp"}, {"parameters", n_params}} : plan_json(args.model, plan);
    record["flops_convention"] = "causal_half";
    TrainContext ctx;
    ctx.world = world->comm.get();
    ctx.dp_rank = world->comm->rank();
    // Every rank measures its own GEMM rate; the slowest is the device peak.
    double peak = measure_cpu_gemm_flops();
    for (auto& s : world->comm->control().all_gather(fmt::format("{:.17g}", peak))) peak = std::min(peak, std::stod(s));
    ctx.peak_flops_per_device = peak;
    ctx.peak_source = "measured: fp32 GEMM probe at start-up";
    if (world->comm->rank() == 0)
      std::printf("# ddp_train: %s (%lld parameters), %d ranks, global batch %lld (micro %lld x dp %lld x accum %lld), "
                  "seq %lld, %s data, launch %s\n",
                  args.model.name.c_str(), static_cast<long long>(n_params), world->comm->size(),
                  static_cast<long long>(layout.global_batch()), static_cast<long long>(layout.micro_batch),
                  static_cast<long long>(layout.dp), static_cast<long long>(layout.accumulation),
                  static_cast<long long>(args.seq), mlp ? "synthetic MNIST-shaped" : data->describe().c_str(),
                  launch.source.c_str());

    Transformer lm{nullptr};
    MlpClassifier classifier{nullptr};
    std::unique_ptr<Trainable> task;
    if (mlp) {
      classifier = MlpClassifier();
      initialize_parameters(*classifier, args.seed);
      task = std::make_unique<MlpTask>(*classifier, args.seed);
    } else {
      lm = Transformer(args.model);
      initialize_parameters(*lm, args.seed);
      lm->activation_checkpointing = args.activation_checkpointing;
      task = std::make_unique<LanguageModelTask>(*lm, *data, args.seq);
    }
    DistributedDataParallel ddp(task->module(), *world->comm);
    ddp.broadcast_parameters();
    DdpGradSync sync(task->module(), ddp, world->comm->rank());
    nlohmann::json out = train(*task, sync, args, layout, ctx);
    record["steps"] = out["steps"];
    record["metrics"] = out["metrics"];
    record["config"]["resumed_from"] = out["resumed_from"];
    gather_per_rank(record, *world, "peak_mem_bytes", static_cast<double>(peak_rss_bytes()));
    gather_per_rank(record, *world, "step_time_median_s", out["step_time_median_s"].get<double>());
    gather_per_rank(record, *world, "step_time_p90_s", out["step_time_p90_s"].get<double>());
    int64_t peak_mem = 0;
    for (auto& pr : record["per_rank"]) peak_mem = std::max<int64_t>(peak_mem, pr["peak_mem_bytes"].get<int64_t>());
    record["metrics"]["peak_mem_bytes"] = peak_mem;
    if (world->comm->rank() == 0) {
      const auto& m = record["metrics"];
      std::printf("# summary: loss %.5f -> %.5f, step %.3f s (median), tokens/s %.0f, TFLOP/s/dev %.3g, MFU %.1f%%, "
                  "peak mem %.2f GiB\n",
                  m["loss_first"].get<double>(), m["loss_last"].get<double>(), m["step_time_s"]["median"].get<double>(),
                  m["tokens_per_s"].get<double>(), m["tflops_per_device"].get<double>(), 100 * m["mfu"].get<double>(),
                  static_cast<double>(peak_mem) / (1 << 30));
    }
    finish_run_record(record, common, world->comm->rank(), clock.elapsed_s());
    return 0;
  });
}
