// Initialization is a function of (seed, name, element index): shards and slices of any
// layout reproduce the whole parameter exactly.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "core/model/init.h"

using namespace dtbench;

TEST_CASE("shards of a flat parameter equal the slices of the whole") {
  at::Tensor whole = at::empty({1001}, at::kFloat);
  init_normal_slice(whole, 7, "layers.0.attn.q.weight", 0, 0.02);
  for (int parts : {2, 3, 4}) {
    const int64_t per = (1001 + parts - 1) / parts;
    for (int r = 0; r < parts; ++r) {
      const int64_t first = r * per, n = std::min<int64_t>(per, 1001 - first);
      at::Tensor shard = at::empty({n}, at::kFloat);
      init_normal_slice(shard, 7, "layers.0.attn.q.weight", first, 0.02);
      CHECK(at::equal(shard, whole.slice(0, first, first + n)));
    }
  }
}

TEST_CASE("column and row blocks of a matrix equal its slices") {
  at::Tensor whole = at::empty({6, 10}, at::kDouble);
  init_normal_block(whole, 1, "w", 10, 0, 0, 1.0);
  at::Tensor flat = at::empty({60}, at::kDouble);
  init_normal_slice(flat, 1, "w", 0, 1.0);
  CHECK(at::equal(whole.flatten(), flat));
  at::Tensor cols = at::empty({6, 4}, at::kDouble);
  init_normal_block(cols, 1, "w", 10, 0, 3, 1.0);
  CHECK(at::equal(cols, whole.slice(1, 3, 7)));
  at::Tensor rows = at::empty({2, 10}, at::kDouble);
  init_normal_block(rows, 1, "w", 10, 4, 0, 1.0);
  CHECK(at::equal(rows, whole.slice(0, 4, 6)));
}

TEST_CASE("values are normal(0, std), different per name and seed") {
  at::Tensor a = at::empty({200000}, at::kDouble);
  init_normal_slice(a, 3, "embed", 0, 0.02);
  CHECK(a.mean().item<double>() == Approx(0.0).margin(0.0005));
  CHECK(a.std().item<double>() == Approx(0.02).epsilon(0.01));
  CHECK(std::isfinite(a.abs().max().item<double>()));
  at::Tensor b = at::empty({200000}, at::kDouble), c = at::empty({200000}, at::kDouble);
  init_normal_slice(b, 3, "head", 0, 0.02);
  init_normal_slice(c, 4, "embed", 0, 0.02);
  CHECK_FALSE(at::equal(a, b));
  CHECK_FALSE(at::equal(a, c));
}
