// LR schedules, AdamW against libtorch's own torch::optim::AdamW, gradient clipping.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <sys/resource.h>
#include <torch/optim/adamw.h>

#include <cstdlib>
#include <string>

#include "core/report/errors.h"
#include "core/train/adamw.h"
#include "core/train/grad_clip.h"
#include "core/train/host_memory.h"
#include "core/train/lr_schedule.h"

using namespace dtbench;

TEST_CASE("warmup, then cosine or linear decay to min-lr at the last step") {
  LrSchedule s{"cosine", 1e-3, 1e-4, 10, 110};
  CHECK(s.at(0) == Approx(1e-4));
  CHECK(s.at(9) == Approx(1e-3));
  CHECK(s.at(10) == Approx(1e-3));
  CHECK(s.at(109) == Approx(1e-4));
  CHECK(s.at(10 + 99 / 2.0) == Approx(0.5 * (1e-3 + 1e-4)).epsilon(0.02));
  LrSchedule lin{"linear", 1.0, 0.0, 0, 11};
  CHECK(lin.at(5) == Approx(0.5));
  CHECK(lin.at(10) == Approx(0.0).margin(1e-12));
  LrSchedule cst{"constant", 0.3, 0.0, 2, 5};
  CHECK(cst.at(4) == Approx(0.3));
  CHECK_THROWS_AS(validate_lr_schedule({"step", 1, 0, 0, 1}), UsageError);
  CHECK_THROWS_AS(validate_lr_schedule({"cosine", 1e-5, 1e-4, 0, 1}), UsageError);
}

TEST_CASE("AdamW matches torch::optim::AdamW step for step") {
  at::manual_seed(0);
  at::Tensor mine = at::randn({50}, at::kDouble), theirs = mine.clone().set_requires_grad(true);
  AdamW ours({0.9, 0.95, 1e-8, 0.1});
  ours.add("w", mine, true);
  torch::optim::AdamW ref({theirs}, torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1));
  for (int step = 0; step < 5; ++step) {
    at::Tensor g = at::randn({50}, at::kDouble);
    theirs.mutable_grad() = g.clone();
    ref.step();
    ours.step(1e-2, {g});
    CHECK(at::allclose(mine, theirs.detach(), 1e-12, 1e-12));
  }
  CHECK(ours.steps_taken() == 5);
  CHECK(AdamW::decays("blocks.0.attn.q.weight"));
  CHECK_FALSE(AdamW::decays("blocks.0.attn_norm.weight"));
  CHECK_FALSE(AdamW::decays("blocks.0.mlp.up.bias"));
}

TEST_CASE("clipping scales every gradient by the global factor") {
  std::vector<at::Tensor> g{at::full({4}, 3.0, at::kFloat), at::full({1}, 4.0, at::kFloat), at::Tensor()};
  const double sq = local_grad_sq(g);
  CHECK(sq == Approx(4 * 9 + 16));
  const double norm = global_grad_norm(sq, nullptr);
  CHECK(norm == Approx(std::sqrt(52.0)));
  clip_grads(g, norm, 1.0);
  CHECK(std::sqrt(local_grad_sq(g)) == Approx(1.0).epsilon(1e-5));
  std::vector<at::Tensor> small{at::full({2}, 0.1, at::kFloat)};
  clip_grads(small, std::sqrt(local_grad_sq(small)), 1.0);
  CHECK(small[0][0].item<float>() == Approx(0.1f));
}

TEST_CASE("keep_freed_host_memory: a large buffer freed and allocated again faults in no new pages") {
  // The sanitizer run turns the cache off (it would hide a use-after-free): nothing to test.
  if (const char* v = std::getenv("DTBENCH_KEEP_FREED_MEMORY"); v && std::string(v) == "0") {
    WARN("skipped: DTBENCH_KEEP_FREED_MEMORY=0");
    return;
  }
  // 64 MiB: above glibc's largest dynamic mmap threshold (32 MiB), so by default every
  // allocation of it is a fresh mapping whose 16384 pages fault in when first written.
  constexpr int64_t kBytes = 64 << 20;
  auto minor_faults = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<long>(u.ru_minflt);
  };
  auto faults_of_a_cycle = [&](int64_t bytes) {
    const long before = minor_faults();
    { at::empty({bytes}, at::kByte).fill_(1); }  // allocated, every page written, freed
    return minor_faults() - before;
  };
  faults_of_a_cycle(kBytes);
  CHECK(faults_of_a_cycle(kBytes) > 8192);  // libtorch's allocator: the pages come and go every time
  dtbench::keep_freed_host_memory();
  CHECK(dtbench::cached_host_bytes() == 0);
  faults_of_a_cycle(kBytes);  // the first one after the switch still faults its pages in
  CHECK(dtbench::cached_host_bytes() == static_cast<std::size_t>(kBytes));
  CHECK(faults_of_a_cycle(kBytes) < 1024);  // then they are reused
  // Another size is not served from the cache, and small buffers never enter it.
  CHECK(faults_of_a_cycle(kBytes + 4096) > 8192);
  CHECK(dtbench::cached_host_bytes() == static_cast<std::size_t>(2 * kBytes + 4096));
  { at::empty({1000}, at::kByte).fill_(1); }
  CHECK(dtbench::cached_host_bytes() == static_cast<std::size_t>(2 * kBytes + 4096));
}
