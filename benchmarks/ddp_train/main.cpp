// ddp_train: AWS's DDP test case in C++: any registry model, or its 784-512-512-10 MLP
// (--model mlp), trained with data parallelism (bucketed all-reduce overlapping backward;
// core/parallel/ddp), one process per device.
//   launch/mpirun-local 2 build/benchmarks/ddp_train --model tiny --steps 20 --global-batch 8
#include "core/app/train_run.h"
#include "core/parallel/ddp/ddp_strategy.h"

using namespace dtbench;

namespace {

class DdpFlags final : public StrategyFlags {
 public:
  std::unique_ptr<Strategy> make(const cxxopts::ParseResult&, int) override { return std::make_unique<DdpStrategy>(); }
};

}  // namespace

int main(int argc, char** argv) {
  DdpFlags flags;
  return training_main(
      argc, argv, {"ddp_train", "Data-parallel training of a registry model, one process per device.", "tiny"}, flags);
}
