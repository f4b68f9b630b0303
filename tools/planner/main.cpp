// planner: parameters, FLOPs per token and per-rank memory of any registry model under a
// parallel layout, without allocating it. What the training executables' --dry-run prints.
//   planner --model llama2_70b --dp 16 --fsdp --dtype bf16 --activation-checkpointing
//   planner --model mixtral_8x7b --dp 64 --ep 8 --fsdp --dtype bf16 --seq 4096
#include <cstdio>

#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/model/plan.h"
#include "core/train/train_args.h"
#include "core/report/errors.h"

using namespace dtbench;

int main(int argc, char** argv) {
  return run_guarded("planner", [&] {
    cxxopts::Options o("planner", "Model arithmetic for a parallel layout (no model is allocated).");
    add_model_flags(o, "tiny");
    // clang-format off
    o.add_options()
        ("h,help", "print this help and exit")
        ("list", "list the registry with parameter counts and sources")
        ("seq", "sequence length (default: the model's)", number<int64_t>(), "N")
        ("micro-batch", "sequences per micro-batch", number<int64_t>()->default_value("1"), "N")
        ("dp", "data-parallel size", number<int64_t>()->default_value("1"), "N")
        ("tp", "tensor-parallel size", number<int64_t>()->default_value("1"), "N")
        ("pp", "pipeline-parallel size", number<int64_t>()->default_value("1"), "N")
        ("ep", "expert-parallel size (a mixture of experts; divides the experts and dp)",
         number<int64_t>()->default_value("1"), "N")
        ("fsdp", "shard parameters, gradients and optimizer state over dp",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
        ("activation-checkpointing", "recompute activations in backward",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
        ("dtype", "fp32 | bf16", cxxopts::value<std::string>()->default_value("fp32"), "T")
        ("json", "print JSON instead of text", cxxopts::value<bool>()->default_value("false")->implicit_value("true"));
    // clang-format on
    auto r = parse_flags(o, argc, argv);
    if (r.count("list")) {
      for (const auto& c : model_registry())
        std::printf("%-14s %8.3f B  %s\n", c.name.c_str(), static_cast<double>(parameter_count(c)) / 1e9,
                    c.source.c_str());
      std::printf("(mistral_8x7b: AWS's name for mixtral_8x7b)\n");
      return 0;
    }
    const ModelConfig c = read_model_flags(r);
    ParallelLayout l;
    l.seq = r.count("seq") ? r["seq"].as<int64_t>() : c.seq;
    l.micro_batch = r["micro-batch"].as<int64_t>();
    l.dp = r["dp"].as<int64_t>();
    l.tp = r["tp"].as<int64_t>();
    l.pp = r["pp"].as<int64_t>();
    l.ep = r["ep"].as<int64_t>();
    l.shard_params = r["fsdp"].as<bool>();
    l.activation_checkpointing = r["activation-checkpointing"].as<bool>();
    const std::string dtype = r["dtype"].as<std::string>();
    DT_USAGE(dtype == "fp32" || dtype == "bf16", "--dtype {}: use fp32 or bf16", dtype);
    l.bf16 = dtype == "bf16";
    validate_layout(c, l);
    if (r["json"].as<bool>())
      std::printf("%s\n", plan_json(c, l).dump(2).c_str());
    else
      std::fputs(describe_plan(c, l).c_str(), stdout);
    return 0;
  });
}
