#include "core/train/train_args.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "core/report/errors.h"
#include "core/report/files.h"
#include "core/report/flag_number.h"
#include "core/report/numbers.h"

namespace dtbench {

void add_model_flags(cxxopts::Options& o, const std::string& default_model) {
  // clang-format off
  o.add_options("model")
      ("model", "registry model (see tools/planner --list)", cxxopts::value<std::string>()->default_value(default_model), "NAME")
      ("hidden", "override the hidden size", number<int64_t>(), "N")
      ("layers", "override the layer count", number<int64_t>(), "N")
      ("heads", "override the attention heads", number<int64_t>(), "N")
      ("kv-heads", "override the key/value heads", number<int64_t>(), "N")
      ("ffn", "override the MLP width", number<int64_t>(), "N")
      ("vocab", "override the vocabulary", number<int64_t>(), "N")
      ("experts", "experts per block: a mixture of experts (Mixtral) with SwiGLU experts of width --ffn",
       number<int64_t>(), "N")
      ("top-k", "experts each token is routed to (with --experts)", number<int64_t>(), "K")
      ("aux-loss-coef", "weight of the load-balancing loss of a mixture of experts (default 0.01)",
       number<double>(), "X");
  // clang-format on
}

ModelConfig read_model_flags(const cxxopts::ParseResult& r) {
  ModelConfig c = find_model(r["model"].as<std::string>());
  if (r.count("hidden")) c.hidden = r["hidden"].as<int64_t>();
  if (r.count("layers")) c.layers = r["layers"].as<int64_t>();
  if (r.count("heads")) c.heads = r["heads"].as<int64_t>();
  if (r.count("kv-heads")) c.kv_heads = r["kv-heads"].as<int64_t>();
  if (r.count("ffn")) c.ffn = r["ffn"].as<int64_t>();
  if (r.count("vocab")) c.vocab = r["vocab"].as<int64_t>();
  if (r.count("experts")) {
    c.experts = r["experts"].as<int64_t>();
    DT_USAGE(c.experts >= 1,
             "--experts {}: a mixture of experts needs at least 1 (for a dense model pick one from "
             "tools/planner --list)",
             c.experts);
    if (!r.count("top-k")) c.top_k = c.top_k > 0 ? c.top_k : std::min<int64_t>(2, c.experts);
  }
  if (r.count("top-k")) {
    c.top_k = r["top-k"].as<int64_t>();
    DT_USAGE(c.moe(), "--top-k {}: {} is dense; give --experts too, or pick a mixture of experts", c.top_k, c.name);
  }
  if (r.count("aux-loss-coef")) c.aux_loss_coef = r["aux-loss-coef"].as<double>();
  validate_model(c);
  return c;
}

void add_train_flags(cxxopts::Options& o, const std::string& default_model, bool default_activation_checkpointing) {
  add_model_flags(o, default_model);
  // clang-format off
  o.add_options("training")
      ("seq", "sequence length (default: the model's)", number<int64_t>(), "N")
      ("micro-batch", "sequences per rank per micro-step", number<int64_t>()->default_value("1"), "N")
      ("global-batch", "sequences per step = micro-batch x dp x accumulation (default: micro-batch x dp)",
       number<int64_t>(), "N")
      ("steps", "optimizer steps", number<int64_t>()->default_value("10"), "N")
      ("warmup-steps", "linear warmup steps", number<int64_t>()->default_value("0"), "N")
      ("lr", "peak learning rate", number<double>()->default_value("1e-4"), "X")
      ("min-lr", "learning rate at the last step", number<double>()->default_value("1e-5"), "X")
      ("lr-schedule", "cosine | linear | constant", cxxopts::value<std::string>()->default_value("cosine"), "S")
      ("weight-decay", "AdamW decoupled weight decay (not on norms, biases)",
       number<double>()->default_value("0.2"), "X")
      ("grad-clip", "global gradient-norm clip (0 = off)", number<double>()->default_value("1.0"), "X")
      ("seed", "initialization and synthetic-data seed", number<uint64_t>()->default_value("12345"), "N")
      ("dtype", "fp32 | bf16 (bf16 compute, fp32 master weights, gradients and reductions)", cxxopts::value<std::string>()->default_value("fp32"), "T")
      ("data", "synthetic | a token file | an indexed dataset's .bin", cxxopts::value<std::string>()->default_value("synthetic"), "PATH")
      ("ckpt-dir", "checkpoint folder: <dir>/<model>-<N>steps/ (shared by all nodes)", cxxopts::value<std::string>(), "DIR")
      ("ckpt-every", "save a checkpoint every N steps and after the last (0 = never)",
       number<int64_t>()->default_value("0"), "N")
      ("resume", "continue from the newest complete checkpoint in --ckpt-dir (none: start at step 0)",
       cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
      ("log-every", "print the step line every N steps", number<int64_t>()->default_value("1"), "N")
      ("peak-tflops", "peak TFLOP/s per device for MFU (default: the GPU's datasheet figure, else a GEMM probe)",
       number<double>()->default_value("0"), "T")
      ("activation-checkpointing", "recompute each block's activations in backward (less memory, ~1/3 more compute)",
       cxxopts::value<bool>()->default_value(default_activation_checkpointing ? "true" : "false")->implicit_value("true"))
      ("dry-run", "print parameters, FLOPs/token and per-rank memory, then exit without allocating the model",
       cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
      ("hw-profile", "predict this run on a hardware profile (a shipped name, see tools/planner --list-profiles, or "
                     "a file from planner --calibrate): the record keeps the prediction beside the measurement",
       cxxopts::value<std::string>(), "P");
  // clang-format on
}

TrainArgs read_train_flags(const cxxopts::ParseResult& r, int64_t dp, BatchLayout* layout) {
  TrainArgs a;
  if (r["model"].as<std::string>() == "mlp") {
    // The MLP classifier (ddp_train): no transformer shape; one loss term per sample.
    a.model.name = "mlp";
    a.model.family = "mlp";
    a.model.rope = true;  // no position table to bound --seq
    a.model.seq = 1;
  } else {
    a.model = read_model_flags(r);
  }
  a.seq = r.count("seq") ? r["seq"].as<int64_t>() : a.model.seq;
  DT_USAGE(a.seq >= 1 && a.seq <= (int64_t{1} << 24), "--seq {}: want 1 to 2^24", a.seq);
  DT_USAGE(a.model.rope || a.seq <= a.model.seq, "--seq {}: {} has learned positions for at most {} tokens", a.seq,
           a.model.name, a.model.seq);
  a.micro_batch = r["micro-batch"].as<int64_t>();
  DT_USAGE(a.micro_batch >= 1, "--micro-batch {}: must be at least 1", a.micro_batch);
  // Tokens per step (global batch x seq) stay below 2^40, so counts built on them cannot wrap.
  const int64_t max_tokens = int64_t{1} << 40;
  const int64_t per_micro_step = checked_product("--micro-batch x data-parallel size", {a.micro_batch, dp}, max_tokens);
  a.global_batch = r.count("global-batch") ? r["global-batch"].as<int64_t>() : per_micro_step;
  DT_USAGE(a.global_batch >= 1 && a.global_batch % per_micro_step == 0,
           "--global-batch {}: must be a multiple of micro-batch {} x data-parallel size {} = {}", a.global_batch,
           a.micro_batch, dp, per_micro_step);
  checked_product("--global-batch x --seq (tokens per step)", {a.global_batch, a.seq}, max_tokens);
  *layout = BatchLayout{a.micro_batch, dp, a.global_batch / per_micro_step};
  a.steps = r["steps"].as<int64_t>();
  DT_USAGE(a.steps >= 1, "--steps {}: must be at least 1", a.steps);
  a.lr = LrSchedule{r["lr-schedule"].as<std::string>(), r["lr"].as<double>(), r["min-lr"].as<double>(),
                    r["warmup-steps"].as<int64_t>(), a.steps};
  validate_lr_schedule(a.lr);
  a.adamw.weight_decay = r["weight-decay"].as<double>();
  DT_USAGE(a.adamw.weight_decay >= 0, "--weight-decay {}: cannot be negative", a.adamw.weight_decay);
  a.grad_clip = r["grad-clip"].as<double>();
  DT_USAGE(a.grad_clip >= 0, "--grad-clip {}: 0 (off) or positive", a.grad_clip);
  a.seed = r["seed"].as<uint64_t>();
  a.dtype = r["dtype"].as<std::string>();
  DT_USAGE(a.dtype == "fp32" || a.dtype == "bf16", "--dtype {}: unknown; use fp32 or bf16", a.dtype);
  a.data = r["data"].as<std::string>();
  a.log_every = r["log-every"].as<int64_t>();
  DT_USAGE(a.log_every >= 1, "--log-every {}: must be at least 1", a.log_every);
  a.peak_tflops = r["peak-tflops"].as<double>();
  DT_USAGE(a.peak_tflops >= 0, "--peak-tflops {}: a peak cannot be negative; give the device's TFLOP/s", a.peak_tflops);
  a.dry_run = r["dry-run"].as<bool>();
  if (r.count("hw-profile")) a.hw_profile = r["hw-profile"].as<std::string>();
  a.activation_checkpointing = r["activation-checkpointing"].as<bool>();
  a.ckpt.dir = r.count("ckpt-dir") ? r["ckpt-dir"].as<std::string>() : "";
  a.ckpt.every = r["ckpt-every"].as<int64_t>();
  a.ckpt.resume = r["resume"].as<bool>();
  DT_USAGE(a.ckpt.every >= 0, "--ckpt-every {}: 0 (never) or a step count", a.ckpt.every);
  DT_USAGE(!a.ckpt.dir.empty() || (a.ckpt.every == 0 && !a.ckpt.resume),
           "--ckpt-every and --resume need --ckpt-dir DIR (a folder every node can reach)");
  if (!a.ckpt.dir.empty() && !a.dry_run) {
    const std::string why = make_dirs(a.ckpt.dir);
    DT_USAGE(why.empty() && ::access(a.ckpt.dir.c_str(), W_OK | X_OK) == 0,
             "--ckpt-dir {}: cannot create or write it ({}); give a writable folder", a.ckpt.dir,
             why.empty() ? "no write permission" : why);
  }
  return a;
}

}  // namespace dtbench
