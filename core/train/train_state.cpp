#include "core/train/train_state.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <mutex>

#include "core/comm/control_plane.h"
#include "core/report/errors.h"
#include "core/train/adamw.h"
#include "core/train/checkpoint.h"

namespace dtbench {

namespace {

std::string rng_name(int rank) { return fmt::format("rng.cpu.rank{}", rank); }

void check_slots(const std::vector<TrainTensor>& tensors, AdamW& opt) {
  DT_CHECK(opt.slots().size() == tensors.size(), "the optimizer holds {} tensors, the strategy {}", opt.slots().size(),
           tensors.size());
}

}  // namespace

std::string save_training_state(ControlPlane& ctl, const CheckpointArgs& args, const std::string& prefix,
                                int64_t steps_done, const std::vector<TrainTensor>& tensors, AdamW& opt,
                                const nlohmann::json& identity, const nlohmann::json& position) {
  check_slots(tensors, opt);
  std::vector<CheckpointPiece> mine;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TrainTensor& t = tensors[i];
    if (!t.writer) continue;
    const AdamW::Slot& s = opt.slots()[i];
    mine.push_back({"model." + t.name, t.value, t.shape, t.start, t.block});
    mine.push_back({"optim." + t.name + ".exp_avg", s.exp_avg, t.shape, t.start, t.block});
    mine.push_back({"optim." + t.name + ".exp_avg_sq", s.exp_avg_sq, t.shape, t.start, t.block});
  }
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  at::Tensor rng;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng = gen.get_state();
  }
  mine.push_back({rng_name(ctl.rank()), rng, {rng.numel()}, 0});
  const nlohmann::json state = {{"steps_done", steps_done},
                                {"optimizer_steps", opt.steps_taken()},
                                {"identity", identity},
                                {"data_position", position}};
  return save_checkpoint(ctl, args.dir, checkpoint_name(prefix, steps_done), mine, state);
}

int64_t load_training_state(ControlPlane& ctl, const CheckpointArgs& args, const std::string& prefix,
                            const std::vector<TrainTensor>& tensors, AdamW& opt, const nlohmann::json& identity,
                            std::string* path) {
  check_slots(tensors, opt);
  // Read into staging first: nothing changes until every rank has read a whole checkpoint.
  std::vector<at::Tensor> values, avg, avg_sq;
  at::Tensor rng;
  int64_t steps_done = 0, optimizer_steps = 0;
  *path = load_latest_checkpoint(ctl, args.dir, prefix, [&](const CheckpointReader& r) {
    const auto& st = r.state();
    for (const auto& [key, want] : identity.items()) {
      const auto got = st.at("identity").value(key, nlohmann::json());
      DT_USAGE(got == want,
               "checkpoint {} was written with {} {}, this run has {}: resume with the same settings or use another "
               "--ckpt-dir",
               r.path(), key, got.dump(), want.dump());
    }
    values.clear();
    avg.clear();
    avg_sq.clear();
    for (const TrainTensor& t : tensors) {
      DT_USAGE(r.shape("model." + t.name) == t.shape, "checkpoint {}: {} has shape {}, the model {}", r.path(), t.name,
               nlohmann::json(r.shape("model." + t.name)).dump(), nlohmann::json(t.shape).dump());
      values.push_back(r.read("model." + t.name, t.start, t.value.numel(), t.block));
      avg.push_back(r.read("optim." + t.name + ".exp_avg", t.start, t.value.numel(), t.block));
      avg_sq.push_back(r.read("optim." + t.name + ".exp_avg_sq", t.start, t.value.numel(), t.block));
    }
    // A run on more ranks than the checkpoint's keeps its own seeded RNG on the new ranks.
    rng = r.has(rng_name(ctl.rank())) ? r.read(rng_name(ctl.rank())) : at::Tensor();
    steps_done = st.at("steps_done").get<int64_t>();
    optimizer_steps = st.at("optimizer_steps").get<int64_t>();
  });
  if (path->empty()) return 0;
  at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const AdamW::Slot& s = opt.slots()[i];
    tensors[i].value.copy_(values[i].view(tensors[i].value.sizes()));
    s.exp_avg.copy_(avg[i].view(s.exp_avg.sizes()));
    s.exp_avg_sq.copy_(avg_sq[i].view(s.exp_avg_sq.sizes()));
  }
  if (rng.defined()) {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  }
  opt.set_steps_taken(optimizer_steps);
  return steps_done;
}

}  // namespace dtbench
