// fsdp_llama: AWS's FSDP test case in C++: a Llama (or any registry model) trained with
// fully sharded data parallelism (ZeRO-3; core/parallel/fsdp), one process per device.
// AWS's defaults: lr 1e-4, min lr 1e-5, weight decay 0.2, betas 0.9/0.95, clip 1.0, cosine,
// activation checkpointing on, seed 12345.
//   launch/mpirun-local 2 build/benchmarks/fsdp_llama --model tiny --steps 20 --global-batch 8
#include "core/app/train_run.h"
#include "core/parallel/fsdp/fsdp_strategy.h"
#include "core/report/flag_number.h"

using namespace dtbench;

namespace {

class FsdpFlags final : public StrategyFlags {
 public:
  void add(cxxopts::Options& o) override {
    // clang-format off
    o.add_options("fsdp")
        ("reshard-after-forward", "free each block's gathered parameters after its forward (off: ZeRO-2)",
         cxxopts::value<bool>()->default_value("true")->implicit_value("true"))
        ("prefetch", "issue the next block's all-gather one block ahead (forward and backward)",
         cxxopts::value<bool>()->default_value("true")->implicit_value("true"))
        ("hsdp-shard-size", "hybrid sharding: shard inside groups of N consecutive ranks, replicate across (0 = all)",
         number<int64_t>()->default_value("0"), "N")
        ("ep", "expert parallelism (a mixture of experts): groups of N consecutive ranks split every block's experts "
         "and exchange tokens; experts are sharded over the ranks holding the same ones", number<int64_t>()->default_value("1"), "N");
    // clang-format on
  }
  std::unique_ptr<Strategy> make(const cxxopts::ParseResult& r, int world_size) override {
    FsdpSettings s;
    s.reshard_after_forward = r["reshard-after-forward"].as<bool>();
    s.prefetch = r["prefetch"].as<bool>();
    s.shard_size = r["hsdp-shard-size"].as<int64_t>();
    s.ep = r["ep"].as<int64_t>();
    return std::make_unique<FsdpStrategy>(s, world_size);
  }
};

}  // namespace

int main(int argc, char** argv) {
  FsdpFlags flags;
  return training_main(
      argc, argv,
      {"fsdp_llama", "Fully sharded data-parallel (ZeRO-3) training of a Llama, one process per device.", "tiny", true},
      flags);
}
