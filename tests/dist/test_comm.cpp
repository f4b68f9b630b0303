// Communicator semantics beyond single ops: sub-communicators, asynchronous ordering,
// point-to-point, uneven all_to_all, sequence numbers and --debug-collectives.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <torch/csrc/autograd/autograd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

#include "core/comm/watchdog.h"
#include "core/layers/expert_parallel.h"
#include "core/report/errors.h"
#include "core/train/grad_clip.h"
#include "tests/dist/world_fixture.h"

using namespace dtbench;

TEST_CASE("split: even and odd ranks, ordered by key") {
  Communicator& w = test::comm();
  const int r = w.rank(), n = w.size();
  // Reverse order inside each group through the key.
  auto sub = w.split(r % 2, n - r, "parity");
  REQUIRE(sub != nullptr);
  const int members = (n + 1 - r % 2) / 2;
  CHECK(sub->size() == members);
  std::vector<int> expect_world;
  for (int q = n - 1; q >= 0; --q)
    if (q % 2 == r % 2) expect_world.push_back(q);
  CHECK(sub->world_ranks() == expect_world);
  CHECK(expect_world[sub->rank()] == r);
  at::Tensor t = at::full({5}, static_cast<double>(r), at::kDouble);
  sub->all_reduce(t)->wait();
  double sum = 0;
  for (int q : expect_world) sum += q;
  CHECK(t[0].item<double>() == sum);
  // A sub-communicator of the sub-communicator.
  auto solo = sub->split(sub->rank(), 0, "solo");
  REQUIRE(solo != nullptr);
  CHECK(solo->size() == 1);
  // Color -1 leaves a rank out.
  auto some = w.split(r == 0 ? -1 : 0, r, "without-0");
  CHECK((r == 0) == (some == nullptr));
  if (some) {
    at::Tensor one = at::ones({1}, at::kLong);
    some->all_reduce(one)->wait();
    CHECK(one.item<int64_t>() == n - 1);
  }
}

TEST_CASE("asynchronous ops complete in issue order with the right values") {
  Communicator& w = test::comm();
  const int n = w.size();
  std::vector<at::Tensor> ts;
  std::vector<std::shared_ptr<Work>> works;
  for (int i = 0; i < 40; ++i) {
    ts.push_back(at::full({1000 + i}, static_cast<float>(i + w.rank()), at::kFloat));
    works.push_back(w.all_reduce(ts.back()));
  }
  // The last one done means all are done.
  works.back()->wait();
  for (auto& wk : works) CHECK(wk->is_completed());
  for (int i = 0; i < 40; ++i) {
    const int triangle = n * (n - 1) / 2;  // 0 + 1 + ... + (n - 1)
    const float want = static_cast<float>(n * i + triangle);
    CHECK(ts[i].min().item<float>() == want);
    CHECK(ts[i].max().item<float>() == want);
  }
  // Different ops queued back to back on one communicator.
  at::Tensor a = at::full({7}, 1.0, at::kDouble), g = at::empty({int64_t{7} * n}, at::kDouble);
  auto w1 = w.all_reduce(a);
  auto w2 = w.all_gather(a, g);  // sees a after the all_reduce: ordering
  w2->wait();
  CHECK(w1->is_completed());
  CHECK(g.min().item<double>() == n);
}

TEST_CASE("all_to_all with uneven counts, zeros included, and its rows' way back") {
  Communicator& w = test::comm();
  const int n = w.size(), me = w.rank();
  // Rank s sends (s + 2 d) % 3 elements to rank d (some none), valued 1000 s + 10 d + index.
  auto count = [](int s, int d) { return static_cast<int64_t>((s + 2 * d) % 3); };
  std::vector<int64_t> in_counts, out_counts;
  std::vector<double> in_values, want;
  for (int d = 0; d < n; ++d) {
    in_counts.push_back(count(me, d));
    for (int64_t i = 0; i < count(me, d); ++i) in_values.push_back(1000.0 * me + 10.0 * d + static_cast<double>(i));
  }
  for (int s = 0; s < n; ++s) {
    out_counts.push_back(count(s, me));
    for (int64_t i = 0; i < count(s, me); ++i) want.push_back(1000.0 * s + 10.0 * me + static_cast<double>(i));
  }
  const at::Tensor in = at::tensor(in_values, at::kDouble);
  at::Tensor out = at::full({static_cast<int64_t>(want.size())}, -1.0, at::kDouble);
  w.all_to_all(in, out, in_counts, out_counts)->wait();
  CHECK(at::equal(out, at::tensor(want, at::kDouble)));
  // Rows of 3 through exchange_rows, and the gradient back to where each row came from.
  const at::Tensor rows = in.repeat_interleave(3).view({-1, 3}).requires_grad_(true);
  const at::Tensor got = exchange_rows(rows, in_counts, out_counts, w);
  CHECK(at::equal(got.select(1, 2), at::tensor(want, at::kDouble)));
  const at::Tensor g = torch::autograd::grad({(got * 2.0).sum()}, {rows})[0];
  CHECK(at::equal(g, at::full_like(rows, 2.0)));
  // Counts that do not add up to the buffer are refused on the rank, before the op.
  std::vector<int64_t> bad = in_counts;
  bad[0] += 1;
  CHECK_THROWS_WITH(w.all_to_all(in, out, bad, out_counts), Catch::Contains("all_to_allv on"));
}

TEST_CASE("send and recv in a ring, then a barrier") {
  Communicator& w = test::comm();
  const int r = w.rank(), n = w.size();
  at::Tensor out = at::full({333}, static_cast<int>(r), at::kInt), in = at::empty({333}, at::kInt);
  const int next = (r + 1) % n, prev = (r + n - 1) % n;
  // Even ranks send first; odd ranks receive first, so blocking sends cannot all wait.
  if (r % 2 == 0) {
    w.send(out, next);
    w.recv(in, prev)->wait();
  } else {
    w.recv(in, prev);
    w.send(out, next)->wait();
  }
  CHECK(in.min().item<int>() == prev);
  CHECK(in.max().item<int>() == prev);
  w.barrier()->wait();
}

TEST_CASE("sequence numbers advance per communicator") {
  Communicator& w = test::comm();
  const uint64_t before = w.next_seq();
  w.barrier()->wait();
  w.barrier()->wait();
  CHECK(w.next_seq() == before + 2);
  auto all = w.control().all_gather(std::to_string(w.next_seq()));
  for (auto& s : all) CHECK(s == all[0]);
}

TEST_CASE("--debug-collectives catches ranks that disagree") {
  Communicator& w = test::comm();
  auto dbg = w.split(0, w.rank(), "debugged");
  REQUIRE(dbg != nullptr);
  dbg->set_debug_collectives(true);
  at::Tensor same = at::ones({4}, at::kFloat);
  dbg->all_reduce(same)->wait();
  CHECK(same[0].item<float>() == w.size());
  // Rank 0 would all_reduce 5 elements, the others 4: every rank refuses before the op.
  at::Tensor odd = at::ones({w.rank() == 0 ? 5 : 4}, at::kFloat);
  CHECK_THROWS_AS(dbg->all_reduce(odd), CorrectnessFailure);
}

TEST_CASE("a tensor off the communicator's device is refused before the op, on every rank") {
  Communicator& w = test::comm();
  CHECK(w.device() == at::Device(at::kCPU));
  // A meta tensor stands for "another device" on CPU runs (cuda:0 handed to GPU 3's NCCL
  // communicator on a GPU node): no rank issues the op, so none waits for the others.
  at::Tensor elsewhere = at::ones({4}, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
  at::Tensor here = at::ones({4}, at::kFloat);
  CHECK_THROWS_WITH(w.all_reduce(elsewhere), Catch::Contains("tensor is on meta, the backend's device is cpu"));
  CHECK_THROWS_WITH(w.all_gather(here, elsewhere), Catch::Contains("output tensor is on meta"));
  w.all_reduce(here)->wait();  // the communicator is still in step on every rank
  CHECK(here[0].item<float>() == w.size());
}

TEST_CASE("removing a watchdog check waits for a call of it in progress") {
  // ~NcclBackend removes its check, then frees the communicator the check reads: a call still
  // running on the watchdog's thread must be over by the time remove returns.
  std::atomic<int> state{0};  // 1: a call runs, 2: it has returned
  std::atomic<bool> first{true};
  const int id = Watchdog::instance().add_health_check([&]() -> std::optional<std::string> {
    if (first.exchange(false)) {
      state = 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      state = 2;
    }
    return std::nullopt;
  });
  for (int i = 0; i < 1000 && state.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(state.load() >= 1);
  Watchdog::instance().remove_health_check(id);
  CHECK(state.load() == 2);
}

TEST_CASE("the global gradient norm covers every rank's gradients") {
  Communicator& w = test::comm();
  const int r = w.rank(), n = w.size();
  std::vector<at::Tensor> mine{at::full({3}, static_cast<float>(r + 1), at::kFloat)};
  double want = 0;
  for (int q = 0; q < n; ++q) want += 3.0 * (q + 1) * (q + 1);
  CHECK(global_grad_norm(local_grad_sq(mine), &w) == Approx(std::sqrt(want)));
}
