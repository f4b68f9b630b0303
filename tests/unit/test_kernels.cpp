// kernels/: each CPU reference against the model's ATen math (raw pointers, odd shapes), the
// cross-entropy's vocabulary chunking and ignore_index, the autograd functions on CPU (which
// run the references) against ATen autograd, and the switches that keep the CPU path ATen's.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "core/report/errors.h"
#include "core/train/adamw.h"
#include "kernels/adamw.h"
#include "kernels/cross_entropy.h"
#include "kernels/dispatch.h"
#include "tools/kernel_check/kernel_cases.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"

using namespace dtbench;
using namespace dtbench::kernels;

namespace {

void check_close(const at::Tensor& got, const at::Tensor& want, double tol = kTolF32) {
  const CheckRow row = compare(got, want, tol);
  INFO("max_abs " << row.max_abs << ", max_rel " << row.max_rel << ", tol " << tol);
  CHECK(row.pass);
}

at::Tensor leaf(const at::Tensor& t) { return t.clone().requires_grad_(true); }

float* f(at::Tensor& t) { return t.data_ptr<float>(); }

}  // namespace

TEST_CASE("RMSNorm reference matches the model's ATen code, forward and backward") {
  at::manual_seed(1);
  // Not one column: there dx = r·w·dy·(1 − x̂²) with x̂² = 1 − O(eps), ATen's fp32 rounding noise.
  for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {5, 7}, {9, 300}}) {
    INFO(rows << " x " << cols);
    at::Tensor x = at::randn({rows, cols}), w = 1.0 + 0.1 * at::randn({cols}), dy = at::randn({rows, cols});
    at::Tensor xl = leaf(x), wl = leaf(w);
    at::Tensor y_want = oracle::rmsnorm(xl, wl, 1e-5);
    y_want.backward(dy);
    at::Tensor y = at::empty_like(x), rstd = at::empty({rows}), dx = at::empty_like(x), dw = at::empty_like(w);
    rmsnorm_forward_ref(f(x), f(w), f(y), f(rstd), rows, cols, 1e-5f);
    rmsnorm_backward_ref(f(dy), f(x), f(w), f(rstd), f(dx), f(dw), rows, cols);
    check_close(y, y_want);
    check_close(dx, xl.grad());
    check_close(dw, wl.grad());
  }
}

TEST_CASE("RoPE reference matches apply_rope, and its transpose is the backward") {
  at::manual_seed(2);
  for (auto shape : std::vector<std::vector<int64_t>>{{2, 3, 5, 8}, {1, 1, 7, 2}}) {
    const int64_t seq = shape[2], d = shape[3];
    at::Tensor angles = at::randn({seq, d / 2});
    at::Tensor cos = at::cat({angles, angles}, -1).cos(), sin = at::cat({angles, angles}, -1).sin();
    at::Tensor x = at::randn(shape), dy = at::randn(shape);
    at::Tensor xl = leaf(x);
    at::Tensor y_want = oracle::rope(xl, cos, sin);
    y_want.backward(dy);
    RopeShape s;
    s.batch = shape[0], s.heads = shape[1], s.seq = seq, s.head_dim = d;
    for (int k = 0; k < 3; ++k) s.in_stride[k] = s.out_stride[k] = x.stride(k);
    at::Tensor y = at::empty_like(x), dx = at::empty_like(x);
    rope_ref(f(x), f(cos), f(sin), f(y), s, /*transpose=*/false);
    rope_ref(f(dy), f(cos), f(sin), f(dx), s, /*transpose=*/true);
    check_close(y, y_want);
    check_close(dx, xl.grad());
  }
}

TEST_CASE("SwiGLU reference matches silu(gate) * up, forward and backward") {
  at::manual_seed(3);
  for (int64_t n : {1, 17, 1000}) {
    at::Tensor g = 3.0 * at::randn({n}), u = at::randn({n}), dy = at::randn({n});
    at::Tensor gl = leaf(g), ul = leaf(u);
    at::Tensor y_want = oracle::swiglu(gl, ul);
    y_want.backward(dy);
    at::Tensor y = at::empty_like(g), dg = at::empty_like(g), du = at::empty_like(u);
    swiglu_forward_ref(f(g), f(u), f(y), n);
    swiglu_backward_ref(f(dy), f(g), f(u), f(dg), f(du), n);
    check_close(y, y_want);
    check_close(dg, gl.grad());
    check_close(du, ul.grad());
  }
}

TEST_CASE("cross-entropy reference: any vocabulary chunk, ignore_index, as ATen's Sum reduction") {
  at::manual_seed(4);
  for (int64_t vocab : {1, 10, 1003}) {
    const int64_t rows = 9;
    at::Tensor logits = 4.0 * at::randn({rows, vocab});
    at::Tensor targets = at::randint(0, vocab, {rows}, at::kLong).index_fill_(0, at::arange(0, rows, 4), kIgnoreIndex);
    at::Tensor ll = leaf(logits);
    at::Tensor loss_want = oracle::cross_entropy_sum(ll, targets);
    loss_want.backward(at::full({}, 0.5));
    for (int64_t chunk : {int64_t{1}, int64_t{7}, int64_t{64}, vocab, vocab + 3}) {
      INFO("vocab " << vocab << ", chunk " << chunk);
      at::Tensor loss = at::empty({rows}), lse = at::empty({rows}), d = at::empty_like(logits),
                 grad = at::full({1}, 0.5f);
      cross_entropy_forward_ref(f(logits), targets.data_ptr<int64_t>(), f(loss), f(lse), rows, vocab, kIgnoreIndex,
                                chunk);
      cross_entropy_backward_ref(f(logits), targets.data_ptr<int64_t>(), f(lse), f(grad), f(d), rows, vocab,
                                 kIgnoreIndex);
      check_close(loss.sum(), loss_want);
      check_close(d, ll.grad());
      CHECK(loss[0].item<float>() == 0.0f);  // row 0 is ignored
      CHECK(at::all(d[0] == 0).item<bool>());
    }
  }
}

TEST_CASE("cross-entropy: all rows ignored give 0 and no gradient; a target out of range gives NaN") {
  at::Tensor logits = at::randn({3, 11}).requires_grad_();
  at::Tensor loss = fused_cross_entropy_sum(logits, at::full({3}, kIgnoreIndex, at::kLong));
  loss.backward();
  CHECK(loss.item<float>() == 0.0f);
  CHECK(at::all(logits.grad() == 0).item<bool>());
  at::Tensor bad = fused_cross_entropy_sum(logits.detach(), at::tensor(std::vector<int64_t>{0, 11, 2}));
  CHECK(std::isnan(bad.item<float>()));
}

TEST_CASE("AdamW reference matches the model's AdamW over steps, decay on and off") {
  at::manual_seed(5);
  const AdamWOptions o{0.9, 0.95, 1e-8, 0.1, /*fused=*/false};
  std::vector<at::Tensor> mine, theirs, m, v;
  AdamW opt(o);
  for (int64_t n : {1, 33, 1000}) {
    mine.push_back(at::randn({n}));
    theirs.push_back(mine.back().clone());
    m.push_back(at::zeros({n}));
    v.push_back(at::zeros({n}));
    opt.add("t" + std::to_string(n), theirs.back(), /*decay=*/n != 33);
  }
  for (int64_t step = 1; step <= 4; ++step) {
    std::vector<at::Tensor> grads;
    std::vector<AdamWTensor> list;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      grads.push_back(0.1 * at::randn(mine[i].sizes()));
      list.push_back({f(mine[i]), grads.back().data_ptr<float>(), f(m[i]), f(v[i]), mine[i].numel(), i != 1});
    }
    adamw_step_ref(list.data(), static_cast<int64_t>(list.size()),
                   {1e-2, o.beta1, o.beta2, o.eps, o.weight_decay, step},
                   /*param_bf16=*/false);
    opt.step(1e-2, grads);
  }
  for (std::size_t i = 0; i < mine.size(); ++i) {
    check_close(mine[i], theirs[i]);
    check_close(m[i], opt.slots()[i].exp_avg);
    check_close(v[i], opt.slots()[i].exp_avg_sq);
  }
}

TEST_CASE("the autograd functions on CPU (the references) match the model's ATen autograd") {
  // kernel_check --device cpu runs these with its own seed; another seed here.
  for (const CheckRow& row : run_kernel_checks(at::Device(at::kCPU), 99)) {
    INFO(row.op << " " << row.dtype << " " << row.tensor << ": max_rel " << row.max_rel << ", tol " << row.tol);
    CHECK(row.pass);
  }
}

TEST_CASE("the CPU AdamW loop matches the ATen ops and the reference, across threads and odd sizes") {
  // Sizes around the vector widths and the threads' grain; three steps, decay on and off.
  at::manual_seed(6);
  const AdamWOptions aten{0.9, 0.95, 1e-8, 0.1, /*fused=*/false}, fused{0.9, 0.95, 1e-8, 0.1, /*fused=*/true};
  const std::vector<int64_t> sizes = {1, 7, 16, 17, 33, 1000, (1 << 15) + 3, 3 * (1 << 15) + 5};
  AdamW a(aten), b(fused);
  std::vector<at::Tensor> pa, pb, pr, m, v;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    pa.push_back(at::randn({sizes[i]}));
    pb.push_back(pa.back().clone());
    pr.push_back(pa.back().clone());
    m.push_back(at::zeros({sizes[i]}));
    v.push_back(at::zeros({sizes[i]}));
    a.add("t" + std::to_string(i), pa.back(), i % 2 == 0);
    b.add("t" + std::to_string(i), pb.back(), i % 2 == 0);
    REQUIRE(use_for_adamw({pb.back(), pb.back(), m.back(), v.back(), true}));
  }
  const int threads = at::get_num_threads();
  at::set_num_threads(2);  // the loop split into ranges on more than one thread
  for (int64_t step = 1; step <= 3; ++step) {
    std::vector<at::Tensor> grads;
    std::vector<AdamWTensor> list;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      grads.push_back(0.1 * at::randn({sizes[i]}));
      list.push_back({f(pr[i]), grads.back().data_ptr<float>(), f(m[i]), f(v[i]), sizes[i], i % 2 == 0});
    }
    a.step(1e-2, grads);
    b.step(1e-2, grads);
    adamw_step_ref(list.data(), static_cast<int64_t>(list.size()), {1e-2, 0.9, 0.95, 1e-8, 0.1, step}, false);
  }
  at::set_num_threads(threads);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    INFO("size " << sizes[i]);
    check_close(pb[i], pa[i]);
    check_close(pb[i], pr[i]);
    check_close(b.slots()[i].exp_avg, a.slots()[i].exp_avg);
    check_close(b.slots()[i].exp_avg_sq, v[i]);
  }
}

TEST_CASE("the model's CPU path takes no CUDA kernel; AdamW's fp32 CPU step is fused") {
  CHECK_FALSE(use_for(at::ones({4})));
  CHECK_FALSE(use_for(at::ones({4}, at::kBFloat16)));
  CHECK(use_for_adamw({at::ones({4}), at::ones({4}), at::zeros({4}), at::zeros({4}), true}));
  CHECK_FALSE(use_for_adamw({at::ones({4}, at::kBFloat16), at::ones({4}), at::zeros({4}), at::zeros({4}), true}));
  CHECK_FALSE(use_for_adamw({at::ones({4}), at::ones({4}, at::kDouble), at::zeros({4}), at::zeros({4}), true}));
}

TEST_CASE("the glue refuses what the kernels cannot take, loudly") {
  CHECK_THROWS_AS(fused_rmsnorm(at::ones({2, 3}, at::kDouble), at::ones({3}), 1e-5), dtbench::Error);
  CHECK_THROWS_AS(fused_rmsnorm(at::ones({2, 3}), at::ones({4}), 1e-5), dtbench::Error);
  CHECK_THROWS_AS(fused_rope(at::ones({1, 1, 2, 3}), at::ones({2, 3}), at::ones({2, 3})), dtbench::Error);
  CHECK_THROWS_AS(fused_rope(at::ones({1, 1, 4, 2}), at::ones({2, 2}), at::ones({2, 2})), dtbench::Error);
  CHECK_THROWS_AS(fused_swiglu(at::ones({3}), at::ones({4})), dtbench::Error);
  CHECK_THROWS_AS(fused_cross_entropy_sum(at::ones({2, 3}), at::zeros({2}, at::kInt)), dtbench::Error);
  CHECK_THROWS_AS(fused_adamw_step({{at::ones({4}), at::ones({3}), at::zeros({4}), at::zeros({4}), true}}, {}),
                  dtbench::Error);
}

TEST_CASE("the check's comparison: scale-relative, NaN only where both have it, shapes must agree") {
  const at::Tensor want = at::tensor(std::vector<float>{1.0f, -2.0f, 0.0f});
  CHECK(compare(want * (1 + 1e-6), want, 1e-5).pass);
  CHECK_FALSE(compare(want * (1 + 1e-3), want, 1e-5).pass);
  CHECK(compare(want + 1e-6, want, 1e-5).pass);  // the zero is judged against the tensor's scale
  const at::Tensor nan = at::tensor(std::vector<float>{NAN, 1.0f});
  CHECK(compare(nan, nan, 1e-5).pass);
  CHECK_FALSE(compare(nan, at::tensor(std::vector<float>{0.0f, 1.0f}), 1e-5).pass);
  CHECK_FALSE(compare(want, want.narrow(0, 0, 2), 1e-5).pass);
}
