#include "core/train/trainer.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <optional>

#include "core/comm/clock_sync.h"
#include "core/comm/op_timing.h"
#include "core/comm/wait_timer.h"
#include "core/layers/expert_parallel.h"
#include "core/layers/moe_aux.h"
#include "core/report/clock.h"
#include "core/report/cpu_starvation.h"
#include "core/report/errors.h"
#include "core/report/numbers.h"
#include "core/report/result.h"
#include "core/report/stats.h"
#include "core/report/system_info.h"
#include "core/report/span.h"
#include "core/train/profile_window.h"
#include "core/train/adamw.h"
#include "core/train/autocast.h"
#include "core/train/device.h"
#include "core/train/grad_clip.h"
#include "core/train/moe_figures.h"
#include "core/train/stragglers.h"
#include "core/train/train_state.h"

namespace dtbench {

namespace {

// DTBENCH_KILL_AFTER_STEP (trainer.h), or -1.
int64_t kill_after_step() {
  const char* v = std::getenv("DTBENCH_KILL_AFTER_STEP");
  return v && *v ? parse_integer("DTBENCH_KILL_AFTER_STEP", v, 0) : -1;
}

// DTBENCH_SLOW_STEP (trainer.h), or 0.
double planted_slowdown() {
  const char* v = std::getenv("DTBENCH_SLOW_STEP");
  return v && *v ? parse_real("DTBENCH_SLOW_STEP", v, 0, 10) : 0;
}

// Spins (busy, as slow code would be) until `since` has run (1 + fraction) x `work_s`.
void spin_for(const Stopwatch& since, double work_s, double fraction) {
  const double until = work_s * (1 + fraction);
  while (since.elapsed_s() < until) {
  }
}

nlohmann::json model_identity(const ModelConfig& m) {
  return {{"name", m.name},         {"hidden", m.hidden}, {"layers", m.layers}, {"heads", m.heads},
          {"kv_heads", m.kv_heads}, {"ffn", m.ffn},       {"vocab", m.vocab}};
}

}  // namespace

std::string expert_imbalance_text(const StepFigures& f) {
  return f.expert_imbalance > 0 ? fmt::format(" | experts max/mean {:.2f}", f.expert_imbalance) : "";
}

std::string aws_step_line(const StepFigures& f) {
  return fmt::format(
      "Batch {} Loss: {:.5f}, Speed: {:.2f} samples/sec, lr: {:.6f} | tokens/s {:.0f} | TFLOP/s/dev {:.3g} | "
      "MFU {:.1f}% | mem {:.2f} GiB | step {:.3f} s{}",
      f.step, f.loss, static_cast<double>(f.global_batch) / f.time_s, f.lr, f.tokens_per_s, f.tflops_per_device,
      100.0 * f.mfu, static_cast<double>(f.mem_bytes) / (1 << 30), f.time_s, expert_imbalance_text(f));
}

nlohmann::json train(Trainable& task, ParallelRun& run, const TrainArgs& args, const BatchLayout& layout,
                     const TrainContext& ctx) {
  Communicator& world = *ctx.world;
  const int rank = world.rank();
  AdamW opt(args.adamw);
  GradientReducer& reducer = *run.reducer;
  OptimizerShard& shard = *run.shard;
  const std::vector<TrainTensor> tensors = shard.tensors();
  for (const TrainTensor& t : tensors) opt.add(t.name, t.value, AdamW::decays(t.name));
  const int64_t terms = task.terms_per_sample();
  const int64_t global_tokens = layout.global_batch() * terms;
  // What a resumed run must share with the checkpoint's: the same samples in the same order.
  const nlohmann::json identity = {{"model", model_identity(args.model)},
                                   {"global_batch", layout.global_batch()},
                                   {"seq", args.seq},
                                   {"data", args.data},
                                   {"seed", args.seed}};
  std::string resumed_from;
  const int64_t first_step = args.ckpt.resume ? load_training_state(world.control(), args.ckpt, args.model.name,
                                                                    tensors, opt, identity, &resumed_from)
                                              : 0;
  if (rank == 0 && args.ckpt.resume)
    std::printf(resumed_from.empty() ? "# resume: no complete checkpoint in %s; starting at step 0\n"
                                     : "# resume: %s, continuing after step %lld\n",
                resumed_from.empty() ? args.ckpt.dir.c_str() : resumed_from.c_str(),
                static_cast<long long>(first_step));
  DT_USAGE(first_step < args.steps, "--steps {}: checkpoint {} is already {} steps in; ask for more steps", args.steps,
           resumed_from, first_step);
  // What each rank loaded is what it updates; anything it holds beyond that (the distributed
  // optimizer's ranges of other ranks) comes from them, as after a step.
  if (first_step > 0) shard.after_update();
  const int64_t kill_after = kill_after_step();
  const double slow_fraction = planted_slowdown();
  const double flops_per_token = task.flops_per_term();
  nlohmann::json steps = nlohmann::json::array();
  std::vector<double> times;
  double loss_first = 0, loss_last = 0;

  std::vector<double> comm_shares, exchange_shares;
  std::vector<MoeStep> moe_steps;
  // Straggler attribution compares the ranks' op times on rank 0's clock (stragglers.h).
  const ClockOffset clock = measure_clock_offset(world.control());
  std::map<int64_t, double> step_times, starved;
  std::unique_ptr<StepTimer> timer = make_step_timer(ctx.device);
  ProfileWindow profile(args.profile_steps);
  for (int64_t step = first_step; step < args.steps; ++step) {
    profile.begin(step + 1);
    const Span span(fmt::format("step {}", step + 1));
    OpTimingLog::instance().set_step(step);
    const double starved_before = cpu_starved_s();
    timer->start();
    const Stopwatch step_clock;
    std::optional<AutocastBf16> autocast;
    if (ctx.autocast_bf16) autocast.emplace(ctx.device.type());
    const double comm_before = reducer.exposed_comm_s();
    reducer.zero_grads();
    // This rank's summed loss, kept on the device: the host reads it once, after the step.
    at::Tensor total = at::zeros({1}, at::TensorOptions().dtype(at::kDouble).device(ctx.device));
    // Each rank's share of the token-weighted mean; the data-parallel average completes it.
    const double divisor = static_cast<double>(layout.micro_batch * layout.accumulation * terms);
    set_aux_loss_scale(1.0 / divisor);  // a mixture of experts' load-balancing loss is divided alike
    const double exchange_before = expert_exchange_s();
    const int64_t dp_rank = run.data.rank;
    if (run.schedule) {
      const MicroBatchSchedule::Tokens tokens = [&](int64_t micro) {
        return task.batch(layout.first_sample(step, dp_rank, micro), layout.micro_batch);
      };
      total.fill_(run.schedule->forward_backward(layout.accumulation, tokens, divisor));
    }
    for (int64_t k = 0; k < layout.accumulation && !run.schedule; ++k) {
      reducer.before_backward(k == layout.accumulation - 1);
      at::Tensor part;
      {
        const Span forward(fmt::format("micro-batch {} forward", k));
        part = task.loss_sum(layout.first_sample(step, dp_rank, k), layout.micro_batch);
      }
      total += part.detach().to(at::kDouble);
      {
        const Span backward(fmt::format("micro-batch {} backward", k));
        (part / divisor).backward();
        reducer.after_backward();
      }
    }
    autocast.reset();  // forward and backward are done; clipping and AdamW run in fp32
    std::optional<Span> optimizer(std::in_place, "optimizer");
    const std::vector<at::Tensor> grads = shard.grads();
    std::vector<at::Tensor> counted;
    for (std::size_t i = 0; i < grads.size(); ++i)
      if (tensors[i].in_norm) counted.push_back(grads[i]);
    const double norm = global_grad_norm(local_grad_sq(counted), shard.norm_comm());
    clip_grads(grads, norm, args.grad_clip);
    const double lr = args.lr.at(step);
    opt.step(lr, grads);
    shard.after_update();
    optimizer.reset();
    const Span loss_span("loss");
    (run.data.loss_comm ? *run.data.loss_comm : world).all_reduce(total)->wait();
    const double loss = total.item<double>() / static_cast<double>(global_tokens);  // waits for the device
    if (slow_fraction > 0) spin_for(step_clock, step_clock.elapsed_s(), slow_fraction);
    const double dt = timer->stop_s();
    profile.end(step + 1);
    const double comm_wait = reducer.exposed_comm_s() - comm_before;
    const double exchange = expert_exchange_s() - exchange_before;
    std::optional<MoeStep> moe;
    if (args.model.moe()) moe = moe_step(args.model, world, layout.global_batch(), ctx.device);
    step_times[step] = dt;
    starved[step] = cpu_starved_s() - starved_before;
    if (static_cast<int64_t>(step_times.size()) > OpTimingLog::kSteps) {
      step_times.erase(step_times.begin());
      starved.erase(starved.begin());
    }
    if (!std::isfinite(loss))
      throw CorrectnessFailure(fmt::format("loss is {} at step {}; lower --lr or check the data", loss, step));
    if (step == first_step) loss_first = loss;
    loss_last = loss;
    if (step > first_step || step + 1 == args.steps) {  // the first step warms up
      times.push_back(dt);
      comm_shares.push_back(comm_wait / dt);
      exchange_shares.push_back(exchange / dt);
      if (moe) moe_steps.push_back(*moe);
    }
    const double tps = static_cast<double>(global_tokens) / dt;
    steps.push_back({{"step", step},
                     {"loss", loss},
                     {"time_s", dt},
                     {"tokens_per_s", tps},
                     {"lr", lr},
                     {"grad_norm", norm},
                     {"comm_wait_s", comm_wait}});
    if (moe)
      steps.back().update(
          {{"aux_loss", moe->aux_loss},
           {"expert_tokens", {{"min", moe->tokens_min}, {"max", moe->tokens_max}, {"cv", moe->tokens_cv}}}});
    if (ctx.on_step) ctx.on_step(steps.back());
    if (rank == 0 && ((step + 1) % args.log_every == 0 || step + 1 == args.steps)) {
      const double per_dev = tps / world.size();
      StepFigures f;
      f.step = step;
      f.steps = args.steps;
      f.global_batch = layout.global_batch();
      f.loss = loss;
      f.lr = lr;
      f.grad_norm = norm;
      if (moe) f.expert_imbalance = moe->imbalance;
      f.time_s = dt;
      f.tokens_per_s = tps;
      f.tflops_per_device = flops_per_token * per_dev / 1e12;
      f.mfu = ctx.peak_flops_per_device > 0 ? flops_per_token * per_dev / ctx.peak_flops_per_device : 0;
      f.mem_bytes = peak_memory_bytes(ctx.device);
      std::printf("%s\n", ctx.step_line(f).c_str());
      std::fflush(stdout);
    }
    const int64_t done = step + 1;
    if (args.ckpt.every > 0 && (done % args.ckpt.every == 0 || done == args.steps)) {
      const Stopwatch save_clock;
      const std::string path = save_training_state(world.control(), args.ckpt, args.model.name, done, tensors, opt,
                                                   identity, {{"consumed_samples", done * layout.global_batch()}});
      if (rank == 0) std::printf("# checkpoint: %s (%.3f s)\n", path.c_str(), save_clock.elapsed_s());
      std::fflush(stdout);
    }
    if (done == kill_after) std::raise(SIGKILL);
  }
  const StragglerReport stragglers = measure_stragglers(world, clock, step_times, starved);
  const Summary st = summarize(times);
  const double tps = static_cast<double>(global_tokens) / st.median;
  const double per_dev = tps / world.size();
  nlohmann::json metrics = {
      {"step_time_s", to_json(st)},
      {"tokens_per_s", tps},
      {"tokens_per_s_per_device", per_dev},
      {"tflops_per_device", flops_per_token * per_dev / 1e12},
      {"mfu", ctx.peak_flops_per_device > 0 ? flops_per_token * per_dev / ctx.peak_flops_per_device : 0.0},
      {"peak_flops_per_device", ctx.peak_flops_per_device},
      {"peak_source", ctx.peak_source},
      {"flops_per_token", flops_per_token},
      {"exposed_comm_share", summarize(comm_shares).median},   // of step time, rank 0's view
      {"exposed_comm_timing", WaitTimer::method(ctx.device)},  // how the waits were timed
      {"loss_first", loss_first},
      {"loss_last", loss_last},
  };
  if (run.schedule) metrics.update(run.schedule->metrics(st.median));
  if (args.model.moe()) metrics["moe"] = moe_metrics(args.model, moe_steps, summarize(exchange_shares).median);
  nlohmann::json lateness = nlohmann::json::array();
  for (const RankLateness& r : stragglers.ranks) {
    nlohmann::json per_step = {{"step", nlohmann::json::array()},
                               {"time_s", nlohmann::json::array()},
                               {"late_s", nlohmann::json::array()},
                               {"in_comm_s", nlohmann::json::array()}};
    const auto at = [](const std::map<int64_t, double>& m, int64_t s) { return m.count(s) ? m.at(s) : 0.0; };
    for (const auto& [s, t] : r.step_s) {
      per_step["step"].push_back(s);
      per_step["time_s"].push_back(t);
      per_step["late_s"].push_back(at(r.late_s, s));
      per_step["in_comm_s"].push_back(at(r.in_comm_s, s));
    }
    lateness.push_back({{"straggler_score", r.score},
                        {"straggler_cause", r.cause},
                        {"late_beyond_s", r.late_beyond_s},
                        {"compute_beyond_s", r.compute_beyond_s},
                        {"cpu_starved_beyond_s", r.starved_beyond_s},
                        {"per_step", per_step}});
  }
  return {{"steps", steps},
          {"metrics", metrics},
          {"stragglers", stragglers_json(stragglers)},
          {"stragglers_text", stragglers_text(stragglers)},
          {"lateness", lateness},
          {"step_time_median_s", st.median},
          {"step_time_p90_s", st.p90},
          {"resumed_from", resumed_from.empty() ? nlohmann::json() : nlohmann::json(resumed_from)}};
}

}  // namespace dtbench
