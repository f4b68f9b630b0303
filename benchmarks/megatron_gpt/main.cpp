// megatron_gpt: Megatron-LM style training of a GPT or Llama: tensor parallelism (--tp,
// with sequence parallelism --sp), pipeline parallelism (--pp, 1F1B over the step's
// micro-batches; --vp for the interleaved schedule) and data parallelism on the tp x pp x dp
// process grid (core/parallel/megatron); prints Megatron's iteration line and, with --pp,
// the measured pipeline bubble beside the ideal.
//   launch/mpirun-local 4 build/benchmarks/megatron_gpt --model tiny_gpt --tp 2 --sp --global-batch 8
//   launch/mpirun-local 2 build/benchmarks/megatron_gpt --model tiny --pp 2 --global-batch 8
#include <fmt/format.h>

#include "core/app/cli.h"
#include "core/app/train_run.h"
#include "core/parallel/megatron/megatron_strategy.h"

using namespace dtbench;

namespace {

class MegatronFlags final : public StrategyFlags {
 public:
  void add(cxxopts::Options& o) override {
    // clang-format off
    o.add_options("megatron")
        ("tp", "tensor-parallel size (adjacent ranks; divides heads, kv-heads and ffn)",
         number<int64_t>()->default_value("1"), "N")
        ("pp", "pipeline-parallel stages (1F1B over the step's micro-batches)",
         number<int64_t>()->default_value("1"), "N")
        ("pp-layers", "layers per stage, e.g. 3,3,2 (default: as even as possible)",
         cxxopts::value<std::string>()->default_value(""), "LIST")
        ("vp", "virtual stages (model chunks) per pipeline rank: the interleaved 1F1B schedule",
         number<int64_t>()->default_value("1"), "N")
        ("ep", "expert-parallel size: each rank holds experts/ep of every MoE block; ep consecutive replicas "
         "exchange tokens (divides dp and the experts)", number<int64_t>()->default_value("1"), "N")
        ("distributed-optimizer", "shard AdamW's state over the data-parallel group (ZeRO-1)",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
        ("sp", "sequence parallelism in the tensor-parallel group (norms and residuals on 1/tp of the sequence)",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"));
    // clang-format on
  }
  std::unique_ptr<Strategy> make(const cxxopts::ParseResult& r, int world_size) override {
    MegatronSettings s;
    s.tp = r["tp"].as<int64_t>();
    s.pp = r["pp"].as<int64_t>();
    s.vp = r["vp"].as<int64_t>();
    s.ep = r["ep"].as<int64_t>();
    s.pp_layers = parse_count_list("--pp-layers", r["pp-layers"].as<std::string>());
    s.sequence_parallel = r["sp"].as<bool>();
    s.distributed_optimizer = r["distributed-optimizer"].as<bool>();
    return std::make_unique<MegatronStrategy>(s, world_size);
  }
};

// Megatron-LM's iteration line, which its users' parsers read.
std::string megatron_step_line(const StepFigures& f) {
  return fmt::format(
      " iteration {:8d}/{:8d} | consumed samples: {:12d} | elapsed time per iteration (ms): {:.1f} | "
      "learning rate: {:.6E} | global batch size: {:5d} | lm loss: {:.6E} | grad norm: {:.3f} | "
      "TFLOP/s/GPU: {:.2f} | MFU {:.1f}%{}",
      f.step + 1, f.steps, (f.step + 1) * f.global_batch, 1000.0 * f.time_s, f.lr, f.global_batch, f.loss, f.grad_norm,
      f.tflops_per_device, 100.0 * f.mfu, expert_imbalance_text(f));
}

}  // namespace

int main(int argc, char** argv) {
  MegatronFlags flags;
  TrainingExecutable exe{"megatron_gpt", "Megatron-LM style tensor/sequence/data-parallel training of a GPT or Llama.",
                         "tiny_gpt"};
  exe.step_line = megatron_step_line;
  return training_main(argc, argv, exe, flags);
}
