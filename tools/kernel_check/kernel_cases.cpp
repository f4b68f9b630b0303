#include "tools/kernel_check/kernel_cases.h"

#include <ATen/ATen.h>

#include <functional>
#include <limits>
#include <utility>

#include "core/layers/norm.h"
#include "core/model/config.h"
#include "core/model/rope.h"
#include "core/train/adamw.h"
#include "kernels/cross_entropy.h"
#include "kernels/dispatch.h"

namespace dtbench::kernels {

namespace oracle {

at::Tensor rmsnorm(const at::Tensor& x, const at::Tensor& w, double eps) {
  NormImpl norm(x.size(-1), /*rms=*/true, eps);
  norm.weight = w;  // forward() reads this member: the model's code on our weight
  return norm.forward(x);
}

at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return apply_rope(x, RopeTables{cos, sin});
}

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) { return at::silu(gate) * up; }

at::Tensor cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets) {
  return at::cross_entropy_loss(logits.to(at::kFloat), targets, {}, at::Reduction::Sum);
}

}  // namespace oracle

CheckRow compare(const at::Tensor& got, const at::Tensor& want, double tol) {
  CheckRow row;
  row.tol = tol;
  const double inf = std::numeric_limits<double>::infinity();
  const at::Tensor g = got.detach().to(at::kCPU, at::kDouble).flatten();
  const at::Tensor w = want.detach().to(at::kCPU, at::kDouble).flatten();
  if (g.sizes() != w.sizes()) {
    row.max_abs = row.max_rel = inf;
    return row;
  }
  if (w.numel() == 0) {
    row.pass = true;
    return row;
  }
  // NaN in both places agrees; NaN in one only is an infinite difference.
  const at::Tensor diff = at::where(g.isnan() & w.isnan(), 0.0, (g - w).abs()).nan_to_num(inf, inf, inf);
  const double scale = w.nan_to_num(0.0, 0.0, 0.0).square().mean().sqrt().item<double>();
  const at::Tensor rel = diff / (w.abs().nan_to_num(0.0, 0.0, 0.0) + scale).clamp_min(1e-30);
  row.max_abs = diff.max().item<double>();
  row.max_rel = rel.max().item<double>();
  row.pass = row.max_rel <= tol;
  return row;
}

namespace {

using Named = std::vector<std::pair<std::string, at::Tensor>>;

// One op's check. make() draws the inputs on the CPU (model-sized too when `large`); run()
// gives the outputs and gradients, through the fused op or the oracle, on the inputs' device.
struct OpCase {
  const char* name;
  std::function<std::vector<at::Tensor>(at::ScalarType, bool large)> make;
  std::function<Named(const std::vector<at::Tensor>&, bool fused)> run;
};

at::Tensor leaf(const at::Tensor& t) { return t.detach().clone().requires_grad_(true); }

constexpr double kEps = 1e-5;

// AdamW: tensors of odd sizes, one above a chunk, more than one launch's table of tensors;
// every third one without decay; three steps with fresh gradients.
constexpr int kAdamWSteps = 3;
constexpr double kLr = 1e-2;
const AdamWOptions kAdamWOptions{0.9, 0.95, 1e-8, 0.1, /*fused=*/false};  // the oracle: ATen ops
bool adamw_decays(std::size_t i) { return i % 3 != 2; }

Named adamw_run(const std::vector<at::Tensor>& in, bool fused) {
  const std::size_t n = in.size() / (1 + kAdamWSteps);
  auto grads_of = [&](int step) {  // step from 1
    return std::vector<at::Tensor>(in.begin() + static_cast<std::ptrdiff_t>(n * step),
                                   in.begin() + static_cast<std::ptrdiff_t>(n * (step + 1)));
  };
  std::vector<at::Tensor> params, exp_avg, exp_avg_sq;
  for (std::size_t i = 0; i < n; ++i) params.push_back(in[i].clone());
  if (fused) {
    for (const at::Tensor& p : params) {
      exp_avg.push_back(at::zeros(p.sizes(), p.options().dtype(at::kFloat)));
      exp_avg_sq.push_back(at::zeros(p.sizes(), p.options().dtype(at::kFloat)));
    }
    for (int step = 1; step <= kAdamWSteps; ++step) {
      const std::vector<at::Tensor> grads = grads_of(step);
      std::vector<AdamWSlot> slots;
      for (std::size_t i = 0; i < n; ++i)
        slots.push_back({params[i], grads[i], exp_avg[i], exp_avg_sq[i], adamw_decays(i)});
      const AdamWOptions& o = kAdamWOptions;
      fused_adamw_step(slots, AdamWHyper{kLr, o.beta1, o.beta2, o.eps, o.weight_decay, step});
    }
  } else {
    AdamW opt(kAdamWOptions);
    for (std::size_t i = 0; i < n; ++i) opt.add("p" + std::to_string(i), params[i], adamw_decays(i));
    for (int step = 1; step <= kAdamWSteps; ++step) opt.step(kLr, grads_of(step));
    for (const AdamW::Slot& s : opt.slots()) {
      exp_avg.push_back(s.exp_avg);
      exp_avg_sq.push_back(s.exp_avg_sq);
    }
  }
  auto flat = [](const std::vector<at::Tensor>& ts) {
    std::vector<at::Tensor> f;
    for (const at::Tensor& t : ts) f.push_back(t.flatten());
    return at::cat(f);
  };
  return {{"param", flat(params)}, {"exp_avg", flat(exp_avg)}, {"exp_avg_sq", flat(exp_avg_sq)}};
}

const std::vector<OpCase>& cases() {
  static const std::vector<OpCase> all = {
      {"rmsnorm",
       [](at::ScalarType dt, bool large) {
         // More rows than the CUDA backward's blocks, more columns than a block's threads.
         const std::vector<int64_t> shape =
             large ? std::vector<int64_t>{4, 512, 4096} : std::vector<int64_t>{3, 101, 257};
         const int64_t cols = shape.back();
         return std::vector<at::Tensor>{(2.0 * at::randn(shape)).to(dt), (1.0 + 0.1 * at::randn({cols})).to(dt),
                                        at::randn(shape).to(dt)};
       },
       [](const std::vector<at::Tensor>& in, bool fused) {
         at::Tensor x = leaf(in[0]), w = leaf(in[1]);
         at::Tensor y = fused ? fused_rmsnorm(x, w, kEps) : oracle::rmsnorm(x, w, kEps);
         y.backward(in[2]);
         return Named{{"y", y}, {"dx", x.grad()}, {"dw", w.grad()}};
       }},
      {"rope",
       [](at::ScalarType dt, bool large) {
         // As the model has q: [batch, seq, heads, head_dim] seen as [batch, heads, seq, head_dim];
         // Llama 3.1's tables (with their frequency scaling), longer than the sequence.
         const int64_t b = large ? 4 : 2, t = large ? 1024 : 33, h = large ? 8 : 5;
         const ModelConfig c = find_model("llama3_1_8b");
         const RopeTables tables = rope_tables(c, t + 7, at::kCPU);
         return std::vector<at::Tensor>{at::randn({b, t, h, c.head_dim()}).to(dt).transpose(1, 2), tables.cos,
                                        tables.sin, at::randn({b, h, t, c.head_dim()}).to(dt)};
       },
       [](const std::vector<at::Tensor>& in, bool fused) {
         at::Tensor x = leaf(in[0]);
         at::Tensor y = fused ? fused_rope(x, in[1], in[2]) : oracle::rope(x, in[1], in[2]);
         y.backward(in[3]);
         return Named{{"y", y}, {"dx", x.grad()}};
       }},
      {"swiglu",
       [](at::ScalarType dt, bool large) {
         const std::vector<int64_t> shape = large ? std::vector<int64_t>{4096, 1408} : std::vector<int64_t>{7, 333};
         return std::vector<at::Tensor>{(3.0 * at::randn(shape)).to(dt), at::randn(shape).to(dt),
                                        at::randn(shape).to(dt)};
       },
       [](const std::vector<at::Tensor>& in, bool fused) {
         at::Tensor g = leaf(in[0]), u = leaf(in[1]);
         at::Tensor y = fused ? fused_swiglu(g, u) : oracle::swiglu(g, u);
         y.backward(in[2]);
         return Named{{"y", y}, {"dgate", g.grad()}, {"dup", u.grad()}};
       }},
      {"cross_entropy",
       [](at::ScalarType dt, bool large) {
         // A vocabulary several block-widths long and not a multiple of one; every 7th row ignored.
         const int64_t rows = large ? 64 : 37, vocab = large ? 128256 : 5003;
         at::Tensor targets = at::randint(0, vocab, {rows}, at::kLong);
         targets.index_fill_(0, at::arange(0, rows, 7), kIgnoreIndex);
         return std::vector<at::Tensor>{(3.0 * at::randn({rows, vocab})).to(dt), targets, at::full({}, 0.37)};
       },
       [](const std::vector<at::Tensor>& in, bool fused) {
         at::Tensor logits = leaf(in[0]);
         at::Tensor loss = fused ? fused_cross_entropy_sum(logits, in[1]) : oracle::cross_entropy_sum(logits, in[1]);
         loss.backward(in[2].to(loss.device()));
         return Named{{"loss", loss}, {"dlogits", logits.grad()}};
       }},
      {"adamw",
       [](at::ScalarType dt, bool large) {
         std::vector<int64_t> sizes = {257, 51, 70001, 1};
         for (int64_t i = 0; i < 40; ++i) sizes.push_back(1 + i * 37 % 500);
         if (large) sizes.push_back(21'000'000);  // more chunks than one launch's block table
         std::vector<at::Tensor> in;
         for (int64_t s : sizes) in.push_back(at::randn({s}).to(dt));
         for (int step = 1; step <= kAdamWSteps; ++step)
           for (int64_t s : sizes) in.push_back((0.1 * at::randn({s})).to(dt));
         return in;
       },
       adamw_run},
  };
  return all;
}

}  // namespace

std::vector<CheckRow> run_kernel_checks(const c10::Device& device, uint64_t seed) {
  const bool cuda = device.is_cuda();
  std::vector<CheckRow> rows;
  for (const OpCase& c : cases()) {
    for (at::ScalarType dt : {at::kFloat, at::kBFloat16}) {
      at::manual_seed(seed);
      const std::vector<at::Tensor> in = c.make(dt, /*large=*/cuda);
      std::vector<at::Tensor> on_device;
      for (const at::Tensor& t : in) on_device.push_back(t.to(device));  // keeps strides
      const Named want = c.run(in, /*fused=*/cuda);                      // CPU: the model's code; CUDA: the references
      const Named got = c.run(on_device, /*fused=*/true);
      for (std::size_t k = 0; k < want.size(); ++k) {
        CheckRow row = compare(got[k].second, want[k].second, dt == at::kFloat ? kTolF32 : kTolBF16);
        row.op = c.name;
        row.dtype = dt == at::kFloat ? "fp32" : "bf16";
        row.tensor = want[k].first;
        rows.push_back(row);
      }
    }
  }
  return rows;
}

}  // namespace dtbench::kernels
