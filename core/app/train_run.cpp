#include "core/app/train_run.h"

#include <ATen/Context.h>
#include <fmt/format.h>

#include <cstdio>
#include <optional>

#include "core/app/cli.h"
#include "core/app/failed_run_record.h"
#include "core/app/main_guard.h"
#include "core/app/network_proof.h"
#include "core/app/run_record.h"
#include "core/model/mlp_classifier.h"
#include "core/model/plan.h"
#include "core/predict/step_model.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/result.h"
#include "core/report/system_info.h"
#include "core/train/profile_window.h"
#include "core/train/device.h"
#include "core/train/host_memory.h"

namespace dtbench {

namespace {

void print_summary(const nlohmann::json& m, const std::string& stragglers) {
  std::printf(
      "# summary: loss %.5f -> %.5f, step %.3f s (median), tokens/s %.0f, TFLOP/s/dev %.3g, MFU %.1f%%, "
      "peak mem %.2f GiB, stragglers %s\n",
      m["loss_first"].get<double>(), m["loss_last"].get<double>(), m["step_time_s"]["median"].get<double>(),
      m["tokens_per_s"].get<double>(), m["tflops_per_device"].get<double>(), 100 * m["mfu"].get<double>(),
      static_cast<double>(m["peak_mem_bytes"].get<int64_t>()) / (1 << 30), stragglers.c_str());
}

// "fsdp (key value, ...)" of the strategy's settings, for the header line.
std::string settings_line(const nlohmann::json& settings) {
  std::string rest;
  for (const auto& [key, value] : settings.items())
    if (key != "name")
      rest += fmt::format("{}{} {}", rest.empty() ? "" : ", ", key,
                          value.is_string() ? value.get<std::string>() : value.dump());
  return settings.value("name", "?") + (rest.empty() ? "" : " (" + rest + ")");
}

}  // namespace

int training_main(int argc, char** argv, const TrainingExecutable& exe, StrategyFlags& strategy_flags) {
  return run_guarded(exe.name.c_str(), [&] {
    cxxopts::Options options(exe.name, exe.description);
    add_common_flags(options);
    add_train_flags(options, exe.default_model, exe.default_activation_checkpointing);
    add_profile_flag(options, "steps");
    strategy_flags.add(options);
    auto flags = parse_flags(options, argc, argv);
    CommonArgs common = read_common_flags(flags);
    const EnvMap env = process_env();
    LaunchContext lctx;
    lctx.visible_gpus = static_cast<int>(at::getNumGPUs());
    LaunchInfo launch = discover_launch(env, common.launch, lctx);
    BatchLayout batch;
    // The strategy's flags first: they decide how many data-parallel replicas there are.
    const std::unique_ptr<Strategy> made = strategy_flags.make(flags, launch.world_size);
    Strategy& strategy = *made;
    TrainArgs args = read_train_flags(flags, strategy.data_parallel_size(launch.world_size), &batch);
    args.profile_steps = read_profile_flag(flags, args.steps, common.world.device);
    const bool mlp = args.model.name == "mlp";
    DT_USAGE(!mlp || strategy.trains_mlp(), "--model mlp: {} trains transformer models; the MLP is ddp_train's",
             exe.name);
    const RunShape shape{.model = args.model,
                         .seq = args.seq,
                         .micro_batch = args.micro_batch,
                         .global_batch = args.global_batch,
                         .activation_checkpointing = args.activation_checkpointing,
                         .bf16 = args.dtype == "bf16"};
    strategy.check(shape, launch.world_size);
    const ParallelLayout plan = strategy.layout(shape, launch.world_size);
    const int64_t n_params = mlp ? MlpClassifierImpl::parameter_count() : parameter_count(args.model);
    // A prediction's bad input (an unknown profile, one without the figures this layout
    // needs) is found before any communication; --dry-run prints it.
    std::optional<Prediction> predicted;
    if (!args.hw_profile.empty()) {
      DT_USAGE(!mlp, "--hw-profile: predictions are for transformer models; drop it with --model mlp");
      predicted = predict_step(args.model, plan, Cluster{launch.nodes, launch.local_world_size},
                               load_hw_profile(args.hw_profile));
    }
    if (args.dry_run) {
      if (mlp)
        std::printf(
            "model          mlp (784-512-512-10 MLP, AWS's DDP test case)\nparameters     %lld\n"
            "flops/sample   %.4e (forward + backward)\n",
            static_cast<long long>(n_params), MlpClassifierImpl::flops_per_sample());
      else
        std::fputs(describe_plan(args.model, plan).c_str(), stdout);
      if (predicted) std::fputs(describe(*predicted).c_str(), stdout);
      return 0;
    }
    validate_world(launch, common.world, env);
    use_rank_device(launch, common.world);
    DT_USAGE(!mlp || args.data == "synthetic", "--model mlp trains on synthetic MNIST-shaped data; drop --data {}",
             args.data);
    std::unique_ptr<TokenSource> data;
    if (!mlp) data = open_token_source(args.data, args.model.vocab, args.seq, args.seed);
    apply_threads(common, launch);

    const Stopwatch clock;
    nlohmann::json record = new_result_record(exe.name);
    auto world = init_world(launch, common.world, env);
    Communicator& comm = *world->comm;
    fill_run_record(record, flags, common, *world);
    record["config"]["model_config"] =
        mlp ? nlohmann::json{{"model", "mlp"}, {"parameters", n_params}} : plan_json(args.model, plan);
    record["config"]["strategy"] = strategy.describe();
    record["flops_convention"] = "causal_half";
    FailedRunRecord on_failure(record, common.out, comm.rank());
    TrainContext ctx;
    ctx.on_step = [&on_failure](const nlohmann::json& step) { on_failure.add_step(step); };
    ctx.world = &comm;
    ctx.step_line = exe.step_line;
    ctx.device = rank_device(*world);
    if (ctx.device.is_cpu()) keep_freed_host_memory();
    ctx.autocast_bf16 = args.dtype == "bf16" && !strategy.mixed_precision();
    const PeakFlops peak =
        device_peak_flops(comm, ctx.device, args.dtype == "bf16" ? at::kBFloat16 : at::kFloat, args.peak_tflops);
    ctx.peak_flops_per_device = peak.flops;
    ctx.peak_source = peak.source;
    if (comm.rank() == 0)
      std::printf(
          "# %s: %s (%lld parameters), %d ranks, global batch %lld (micro %lld x dp %lld x accum %lld), "
          "seq %lld, %s data, launch %s, strategy %s\n",
          exe.name.c_str(), args.model.name.c_str(), static_cast<long long>(n_params), comm.size(),
          static_cast<long long>(batch.global_batch()), static_cast<long long>(batch.micro_batch),
          static_cast<long long>(batch.dp), static_cast<long long>(batch.accumulation),
          static_cast<long long>(args.seq), mlp ? "synthetic MNIST-shaped" : data->describe().c_str(),
          launch.source.c_str(), settings_line(strategy.describe()).c_str());

    Transformer lm{nullptr};
    MlpClassifier classifier{nullptr};
    std::unique_ptr<Trainable> task;
    if (mlp) {
      classifier = MlpClassifier();
      classifier->to(ctx.device);
      task = std::make_unique<MlpTask>(*classifier, args.seed, ctx.device);
    } else {
      lm = strategy.make_model(args.model, *world);
      lm->activation_checkpointing = args.activation_checkpointing;
      // Initialised on the CPU (a pure function of seed, name and index), then moved: the
      // strategies below build their buffers on the parameters' device. A model built on the
      // meta device (FSDP) has nothing to move: its strategy materialises the shards there.
      const auto params = lm->parameters();
      if (params.empty() || !params.front().is_meta()) lm->to(ctx.device);
      task = std::make_unique<LanguageModelTask>(*lm, *data, args.seq, ctx.device);
    }
    ParallelRun run = strategy.wrap(task->module(), mlp ? nullptr : lm.get(), {*world, ctx.device, args.seed});
    NetworkProof proof(*world);
    nlohmann::json out = train(*task, run, args, batch, ctx);
    proof.finish(record, *world);
    record["steps"] = out["steps"];
    record["metrics"] = out["metrics"];
    record["config"]["resumed_from"] = out["resumed_from"];
    record["stragglers"] = out["stragglers"];
    gather_per_rank(record, *world, "peak_mem_bytes", static_cast<double>(peak_memory_bytes(ctx.device)));
    gather_per_rank(record, *world, "step_time_median_s", out["step_time_median_s"].get<double>());
    gather_per_rank(record, *world, "step_time_p90_s", out["step_time_p90_s"].get<double>());
    gather_per_rank(record, *world, "comm_wait_s", run.reducer->exposed_comm_s());
    int64_t peak_mem = 0;
    double slowest = 0, fastest = 1e300;
    for (auto& pr : record["per_rank"]) {
      peak_mem = std::max<int64_t>(peak_mem, pr["peak_mem_bytes"].get<int64_t>());
      slowest = std::max(slowest, pr["step_time_median_s"].get<double>());
      fastest = std::min(fastest, pr["step_time_median_s"].get<double>());
    }
    record["metrics"]["peak_mem_bytes"] = peak_mem;
    // Every rank has every rank's lateness (stragglers.h): rank 0 files them per rank.
    for (size_t r = 0; r < record["per_rank"].size(); ++r) record["per_rank"][r].update(out["lateness"][r]);
    // Each rank's own median step time, the fastest and the slowest: a straggler shows.
    record["metrics"]["step_time_s"]["rank_min"] = fastest;
    record["metrics"]["step_time_s"]["rank_max"] = slowest;
    if (comm.rank() == 0) print_summary(record["metrics"], out["stragglers_text"].get<std::string>());
    if (predicted) {
      record["prediction"] = prediction_record(*predicted, record["metrics"]);
      if (comm.rank() == 0) std::printf("%s\n", prediction_line(record["prediction"]).c_str());
    }
    on_failure.disarm();
    finish_run_record(record, common, *world, clock.elapsed_s());
    return 0;
  });
}

}  // namespace dtbench
