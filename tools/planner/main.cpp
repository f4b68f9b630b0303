// planner: parameters, FLOPs per token and per-rank memory of any registry model under a
// parallel layout, without allocating it (what the training executables' --dry-run prints);
// with a hardware profile, the predicted step (--predict), the best layouts (--search), and
// profiles of this machine from its own records (--calibrate).
//   planner --model llama2_70b --dp 16 --fsdp --dtype bf16 --activation-checkpointing
//   planner --model llama3_1_8b --dp 8 --fsdp --dtype bf16 --micro-batch 2 --predict --profile p5.48xlarge
//   planner --model llama3_1_70b --search --nodes 64 --profile p5.48xlarge
//   planner --calibrate --out mine.json collectives_*.json env_check.json fsdp_*.json
#include <cstdio>
#include <fstream>

#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/model/plan.h"
#include "core/predict/calibrate.h"
#include "core/predict/search.h"
#include "core/predict/step_model.h"
#include "core/report/errors.h"
#include "core/report/result.h"
#include "core/train/train_args.h"

using namespace dtbench;

namespace {

int calibrate(const cxxopts::ParseResult& r) {
  DT_USAGE(r.count("records"), "--calibrate: give the records to calibrate from after the flags");
  DT_USAGE(r.count("out"), "--calibrate: give --out FILE for the profile");
  const auto files = r["records"].as<std::vector<std::string>>();
  std::optional<HwProfile> base;
  if (r.count("profile")) base = load_hw_profile(r["profile"].as<std::string>());
  const std::string out = r["out"].as<std::string>();
  const std::string name = r.count("name") ? r["name"].as<std::string>() : base ? base->name : "calibrated";
  const HwProfile p = calibrate_profile(files, name, base, r["cores-per-node"].as<int64_t>());
  write_json_atomic(out, to_json(p));
  std::printf("profile %s: %s\n", name.c_str(), out.c_str());
  for (const auto* level : {&p.intra_node, &p.inter_node})
    for (const auto& [c, f] : level->collectives)
      std::printf("  %-10s %-14s latency %.3g us/hop  busbw %.4g GB/s  residuals rms %.1f%% max %.1f%% (%zu points)\n",
                  level == &p.intra_node ? "intra_node" : "inter_node", coll_name(c), f.latency_s * 1e6,
                  f.bus_bandwidth / 1e9, 100 * f.residual_rms, 100 * f.residual_max, f.points.size());
  if (p.gemm_efficiency)
    std::printf("  shares     gemm %.3f  elementwise %.3f  optimizer %.3f  overlap cost %.3f  runtime %.0f MiB\n",
                p.gemm_efficiency->value, p.elementwise_efficiency->value, p.optimizer_efficiency->value,
                p.overlap_cost ? p.overlap_cost->value : 0.0,
                p.runtime_bytes ? p.runtime_bytes->value / (1 << 20) : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("planner", [&] {
    cxxopts::Options o("planner",
                       "Model arithmetic for a parallel layout (no model is allocated); with a hardware "
                       "profile, predicted step times, a layout search, and profiles calibrated on records.");
    add_model_flags(o, "tiny");
    // clang-format off
    o.add_options()
        ("h,help", "print this help and exit")
        ("list", "list the registry with parameter counts and sources")
        ("seq", "sequence length (default: the model's)", number<int64_t>(), "N")
        ("micro-batch", "sequences per micro-batch", number<int64_t>()->default_value("1"), "N")
        ("global-batch", "sequences per step (default: micro-batch x dp)", number<int64_t>(), "N")
        ("dp", "data-parallel size", number<int64_t>()->default_value("1"), "N")
        ("tp", "tensor-parallel size", number<int64_t>()->default_value("1"), "N")
        ("sp", "sequence parallelism in the tensor-parallel group",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
        ("pp", "pipeline-parallel size", number<int64_t>()->default_value("1"), "N")
        ("vp", "virtual stages per pipeline stage (interleaved schedule)", number<int64_t>()->default_value("1"), "N")
        ("ep", "expert-parallel size (a mixture of experts; divides the experts and dp)",
         number<int64_t>()->default_value("1"), "N")
        ("fsdp", "shard parameters, gradients and optimizer state over dp",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
        ("hsdp-shard-size", "with --fsdp: shard inside groups of N ranks, replicate across them",
         number<int64_t>()->default_value("0"), "N")
        ("activation-checkpointing", "recompute activations in backward",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
        ("dtype", "fp32 | bf16", cxxopts::value<std::string>()->default_value("fp32"), "T")
        ("json", "print JSON instead of text", cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
        ("profile", "hardware profile: a shipped name (--list-profiles) or a file", cxxopts::value<std::string>(), "P")
        ("list-profiles", "list the shipped hardware profiles")
        ("predict", "predict the step on --profile: compute, exposed communication, bubble, optimizer, memory")
        ("nodes", "nodes (--predict: ranks split evenly over them; --search: the cluster)",
         number<int64_t>()->default_value("1"), "N")
        ("ranks-per-node", "--search: ranks per node (default: the profile's devices per node)",
         number<int64_t>()->default_value("0"), "N")
        ("search", "rank the layouts of --model on --nodes nodes of --profile that fit memory, by tokens/s")
        ("top", "--search: how many to print", number<int64_t>()->default_value("5"), "N")
        ("calibrate", "make a profile of this machine from its records (collectives_perf, env_check --sweep, "
                      "training), given after the flags; --profile refines one made so")
        ("name", "--calibrate: the profile's name", cxxopts::value<std::string>(), "NAME")
        ("cores-per-node", "--calibrate: the cores each node really has, where the records count more (nodes "
                           "sharing a host's CPUs unpinned: VMs, namespaces); default: the records' usable CPUs",
         number<int64_t>()->default_value("0"), "N")
        ("out", "--calibrate: the profile file to write", cxxopts::value<std::string>(), "FILE")
        ("records", "records for --calibrate", cxxopts::value<std::vector<std::string>>());
    // clang-format on
    o.parse_positional({"records"});
    o.positional_help("[RECORDS...]");
    auto r = parse_flags(o, argc, argv);
    DT_USAGE(!r.count("records") || r.count("calibrate"), "unexpected argument '{}'; records are for --calibrate",
             r["records"].as<std::vector<std::string>>()[0]);
    if (r.count("list")) {
      for (const auto& c : model_registry())
        std::printf("%-14s %8.3f B  %s\n", c.name.c_str(), static_cast<double>(parameter_count(c)) / 1e9,
                    c.source.c_str());
      std::printf("(mistral_8x7b: AWS's name for mixtral_8x7b)\n");
      return 0;
    }
    if (r.count("list-profiles")) {
      for (const auto& name : shipped_profile_names()) {
        const HwProfile p = load_hw_profile(name);
        std::printf("%-22s %s\n", name.c_str(), p.description.c_str());
      }
      return 0;
    }
    if (r.count("calibrate")) return calibrate(r);
    const ModelConfig c = read_model_flags(r);
    ParallelLayout l;
    l.seq = r.count("seq") ? r["seq"].as<int64_t>() : c.seq;
    l.micro_batch = r["micro-batch"].as<int64_t>();
    l.dp = r["dp"].as<int64_t>();
    l.tp = r["tp"].as<int64_t>();
    l.pp = r["pp"].as<int64_t>();
    l.ep = r["ep"].as<int64_t>();
    l.sp = r["sp"].as<bool>();
    l.vp = r["vp"].as<int64_t>();
    l.shard_params = r["fsdp"].as<bool>();
    l.shard_group = r["hsdp-shard-size"].as<int64_t>();
    l.activation_checkpointing = r["activation-checkpointing"].as<bool>();
    const std::string dtype = r["dtype"].as<std::string>();
    DT_USAGE(dtype == "fp32" || dtype == "bf16", "--dtype {}: use fp32 or bf16", dtype);
    l.bf16 = dtype == "bf16";
    const int64_t nodes = r["nodes"].as<int64_t>();
    DT_USAGE(nodes >= 1, "--nodes {}: must be at least 1", nodes);
    if (r.count("search")) {
      DT_USAGE(r.count("profile"), "--search: give --profile (planner --list-profiles)");
      const HwProfile p = load_hw_profile(r["profile"].as<std::string>());
      SearchSpace space{.nodes = nodes,
                        .ranks_per_node = r["ranks-per-node"].as<int64_t>(),
                        .seq = l.seq,
                        .global_batch = r.count("global-batch") ? r["global-batch"].as<int64_t>() : 0,
                        .bf16 = l.bf16};
      const SearchResult s = search_layouts(c, space, p);
      const int64_t top = std::min<int64_t>(r["top"].as<int64_t>(), static_cast<int64_t>(s.ranked.size()));
      if (r["json"].as<bool>()) {
        nlohmann::json j = {{"considered", s.considered}, {"fitting", s.ranked.size()}};
        for (int64_t i = 0; i < top; ++i)
          j["ranked"].push_back({{"layout", s.ranked[i].label}, {"prediction", to_json(s.ranked[i].prediction)}});
        for (const auto& [why, n] : s.rejected) j["rejected"].push_back({{"why", why}, {"layouts", n}});
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
      }
      std::printf("# %s on %lld node(s) of %s: %lld layouts considered, %zu fit\n", c.name.c_str(),
                  static_cast<long long>(nodes), p.name.c_str(), static_cast<long long>(s.considered), s.ranked.size());
      std::printf("#  %-36s %12s %10s %8s %8s %10s\n", "layout", "tokens/s", "per dev", "MFU", "step s", "mem GiB");
      for (int64_t i = 0; i < top; ++i) {
        const Prediction& pr = s.ranked[i].prediction;
        std::printf("%2lld %-36s %12.0f %10.1f %7.1f%% %8.3f %10.1f\n", static_cast<long long>(i) + 1,
                    s.ranked[i].label.c_str(), pr.tokens_per_s, pr.tokens_per_s_per_device, 100 * pr.mfu, pr.step_s,
                    static_cast<double>(pr.peak_mem_bytes) / (1LL << 30));
      }
      std::printf("# rejected:\n");
      for (const auto& [why, n] : s.rejected) std::printf("#  %5lld  %s\n", static_cast<long long>(n), why.c_str());
      return 0;
    }
    const int64_t world = l.dp * l.tp * l.pp;
    l.accumulation = 1;
    if (r.count("global-batch")) {
      const int64_t g = r["global-batch"].as<int64_t>();
      DT_USAGE(g >= 1 && g % (l.micro_batch * l.dp) == 0,
               "--global-batch {}: must be a multiple of micro-batch x dp = {}", g, l.micro_batch * l.dp);
      l.accumulation = g / (l.micro_batch * l.dp);
    }
    if (r.count("predict")) {
      DT_USAGE(r.count("profile"), "--predict: give --profile (planner --list-profiles)");
      DT_USAGE(world % nodes == 0, "--nodes {}: must divide the {} ranks (dp x tp x pp)", nodes, world);
      const HwProfile p = load_hw_profile(r["profile"].as<std::string>());
      const Prediction pr = predict_step(c, l, Cluster{nodes, world / nodes}, p);
      if (r["json"].as<bool>()) {
        nlohmann::json j = plan_json(c, l);
        j["prediction"] = to_json(pr);
        std::printf("%s\n", j.dump(2).c_str());
      } else {
        std::fputs(describe_plan(c, l).c_str(), stdout);
        std::fputs(describe(pr).c_str(), stdout);
      }
      return 0;
    }
    validate_layout(c, l);
    if (r["json"].as<bool>())
      std::printf("%s\n", plan_json(c, l).dump(2).c_str());
    else
      std::fputs(describe_plan(c, l).c_str(), stdout);
    return 0;
  });
}
