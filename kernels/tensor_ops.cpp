// The tensor glue (kernels/tensor_ops.h), and dispatch.h's switches and AdamW step, which
// need no autograd. The only file that touches the CUDA stream.
#include "kernels/tensor_ops.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/StringUtil.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#ifdef DTBENCH_WITH_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "core/report/errors.h"
#include "kernels/adamw.h"
#include "kernels/cross_entropy.h"
#include "kernels/dispatch.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"

namespace dtbench::kernels {

namespace {

// Vocabulary entries per step of the reference's online logsumexp.
constexpr int64_t kReferenceChunk = 4096;

bool supported_dtype(const at::Tensor& t) { return t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16; }

DType dtype_of(const at::Tensor& t) {
  DT_CHECK(supported_dtype(t), "the fused kernels take fp32 or bf16 tensors, not {}", c10::toString(t.scalar_type()));
  return t.scalar_type() == at::kFloat ? DType::kF32 : DType::kBF16;
}

std::string shape(const at::Tensor& t) { return c10::str(t.sizes()); }

void check_same_device(const at::Tensor& t, const at::Tensor& input, const char* what) {
  DT_CHECK(t.device() == input.device(), "{} is on {}, the input on {}", what, t.device().str(), input.device().str());
}

// Runs launch(stream) on t's device and its current stream. `launch` is a generic lambda, so
// that without the CUDA kernels built in it is never instantiated and nothing refers to them.
template <typename Launch>
void on_cuda(const at::Tensor& t, Launch&& launch) {
#ifdef DTBENCH_WITH_CUDA_KERNELS
  const c10::cuda::CUDAGuard guard(t.device());
  launch(static_cast<Stream>(c10::cuda::getCurrentCUDAStream(t.device().index()).stream()));
#else
  DT_CHECK(false, "a CUDA tensor reached the fused kernels, but this build has none (no nvcc or a CPU libtorch)");
#endif
}

// What the references take: fp32, contiguous (the tensor itself when it already is).
at::Tensor f32(const at::Tensor& t) { return t.to(at::kFloat).contiguous(); }

// DTBENCH_FUSED_KERNELS=0 switches every fused path off (the ATen code instead).
bool switched_on() {
  static const bool on = [] {
    const char* v = std::getenv("DTBENCH_FUSED_KERNELS");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

}  // namespace

bool available() {
#ifdef DTBENCH_WITH_CUDA_KERNELS
  return switched_on();
#else
  return false;
#endif
}

bool use_for(const at::Tensor& x) { return x.is_cuda() && supported_dtype(x) && available(); }

// ---- RMSNorm ------------------------------------------------------------------------------

RmsNormForward rmsnorm_forward(const at::Tensor& x, const at::Tensor& w, double eps) {
  const DType dtype = dtype_of(x);
  DT_CHECK(x.dim() >= 1 && w.dim() == 1 && w.size(0) == x.size(-1) && w.scalar_type() == at::kFloat,
           "RMSNorm: x [..., {}] and an fp32 weight of that size, not {} {}", x.size(-1), shape(w),
           c10::toString(w.scalar_type()));
  check_same_device(w, x, "the RMSNorm weight");
  const int64_t cols = x.size(-1), rows = cols == 0 ? 0 : x.numel() / cols;
  const at::Tensor xc = x.contiguous(), wc = w.contiguous();
  at::Tensor rstd = at::empty(x.sizes().slice(0, x.dim() - 1), x.options().dtype(at::kFloat));
  if (x.is_cuda()) {
    at::Tensor y = at::empty_like(xc);
    on_cuda(x, [&](auto stream) {
      rmsnorm_forward_cuda(dtype, xc.const_data_ptr(), wc.const_data_ptr<float>(), y.mutable_data_ptr(),
                           rstd.mutable_data_ptr<float>(), rows, cols, static_cast<float>(eps), stream);
    });
    return {y, rstd};
  }
  const at::Tensor x32 = f32(xc);
  at::Tensor y32 = at::empty_like(x32);
  rmsnorm_forward_ref(x32.const_data_ptr<float>(), wc.const_data_ptr<float>(), y32.mutable_data_ptr<float>(),
                      rstd.mutable_data_ptr<float>(), rows, cols, static_cast<float>(eps));
  return {y32.to(x.scalar_type()), rstd};
}

RmsNormBackward rmsnorm_backward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& w,
                                 const at::Tensor& rstd) {
  const DType dtype = dtype_of(x);
  DT_CHECK(dy.sizes() == x.sizes(), "RMSNorm backward: dy {} for x {}", shape(dy), shape(x));
  const int64_t cols = x.size(-1), rows = cols == 0 ? 0 : x.numel() / cols;
  const at::Tensor xc = x.contiguous(), wc = w.contiguous(), rc = rstd.contiguous();
  at::Tensor dw = at::empty({cols}, w.options());
  if (x.is_cuda()) {
    const at::Tensor gc = dy.to(x.scalar_type()).contiguous();
    at::Tensor dx = at::empty_like(xc);
    on_cuda(x, [&](auto stream) {
      // Freed once the launch is queued: the caching allocator reuses it only for work
      // ordered after it on this stream. (Inside the launch: builds without the kernels
      // never reference them.)
      const at::Tensor workspace = at::empty({rmsnorm_backward_workspace(rows, cols)}, w.options());
      rmsnorm_backward_cuda(dtype, gc.const_data_ptr(), xc.const_data_ptr(), wc.const_data_ptr<float>(),
                            rc.const_data_ptr<float>(), dx.mutable_data_ptr(), dw.mutable_data_ptr<float>(),
                            workspace.mutable_data_ptr<float>(), rows, cols, stream);
    });
    return {dx, dw};
  }
  const at::Tensor x32 = f32(xc), g32 = f32(dy);
  at::Tensor dx32 = at::empty_like(x32);
  rmsnorm_backward_ref(g32.const_data_ptr<float>(), x32.const_data_ptr<float>(), wc.const_data_ptr<float>(),
                       rc.const_data_ptr<float>(), dx32.mutable_data_ptr<float>(), dw.mutable_data_ptr<float>(), rows,
                       cols);
  return {dx32.to(x.scalar_type()), dw};
}

// ---- RoPE ---------------------------------------------------------------------------------

at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, bool transpose) {
  const DType dtype = dtype_of(x);
  DT_CHECK(x.dim() == 4 && x.size(3) % 2 == 0, "RoPE takes [batch, heads, seq, head_dim] with an even head_dim, not {}",
           shape(x));
  const int64_t seq = x.size(2), d = x.size(3);
  for (const at::Tensor* t : {&cos, &sin}) {
    DT_CHECK(t->dim() == 2 && t->size(0) >= seq && t->size(1) == d && t->scalar_type() == at::kFloat,
             "RoPE tables: fp32 [>= {}, {}], not {} {}", seq, d, shape(*t), c10::toString(t->scalar_type()));
    check_same_device(*t, x, "a RoPE table");
  }
  const at::Tensor c = cos.narrow(0, 0, seq).contiguous(), s = sin.narrow(0, 0, seq).contiguous();
  // Any strides but a unit one in head_dim; the output takes the input's layout (empty_like),
  // so a transposed q stays a transposed q, as it does on the ATen path.
  const at::Tensor in = x.stride(3) == 1 ? x : x.contiguous();
  auto shape_of = [&](const at::Tensor& a, const at::Tensor& b) {
    RopeShape sh;
    sh.batch = a.size(0), sh.heads = a.size(1), sh.seq = seq, sh.head_dim = d;
    for (int k = 0; k < 3; ++k) sh.in_stride[k] = a.stride(k), sh.out_stride[k] = b.stride(k);
    DT_CHECK(a.stride(3) == 1 && b.stride(3) == 1, "RoPE: head_dim must have unit stride");
    return sh;
  };
  if (x.is_cuda()) {
    at::Tensor out = at::empty_like(in);
    const RopeShape sh = shape_of(in, out);
    on_cuda(x, [&](auto stream) {
      rope_cuda(dtype, in.const_data_ptr(), c.const_data_ptr<float>(), s.const_data_ptr<float>(),
                out.mutable_data_ptr(), sh, transpose, stream);
    });
    return out;
  }
  const at::Tensor in32 = in.to(at::kFloat);  // keeps the layout
  at::Tensor out32 = at::empty_like(in32);
  rope_ref(in32.const_data_ptr<float>(), c.const_data_ptr<float>(), s.const_data_ptr<float>(),
           out32.mutable_data_ptr<float>(), shape_of(in32, out32), transpose);
  return out32.to(x.scalar_type());
}

// ---- SwiGLU -------------------------------------------------------------------------------

namespace {
void check_swiglu(const at::Tensor& a, const at::Tensor& b) {
  DT_CHECK(a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type(), "SwiGLU: gate {} {} and up {} {} differ",
           shape(a), c10::toString(a.scalar_type()), shape(b), c10::toString(b.scalar_type()));
  check_same_device(b, a, "up");
}
}  // namespace

at::Tensor swiglu_forward(const at::Tensor& gate, const at::Tensor& up) {
  const DType dtype = dtype_of(gate);
  check_swiglu(gate, up);
  const at::Tensor g = gate.contiguous(), u = up.contiguous();
  if (gate.is_cuda()) {
    at::Tensor y = at::empty_like(g);
    on_cuda(gate, [&](auto stream) {
      swiglu_forward_cuda(dtype, g.const_data_ptr(), u.const_data_ptr(), y.mutable_data_ptr(), g.numel(), stream);
    });
    return y;
  }
  const at::Tensor g32 = f32(g), u32 = f32(u);
  at::Tensor y32 = at::empty_like(g32);
  swiglu_forward_ref(g32.const_data_ptr<float>(), u32.const_data_ptr<float>(), y32.mutable_data_ptr<float>(),
                     g.numel());
  return y32.to(gate.scalar_type());
}

SwigluBackward swiglu_backward(const at::Tensor& dy, const at::Tensor& gate, const at::Tensor& up) {
  const DType dtype = dtype_of(gate);
  check_swiglu(gate, up);
  DT_CHECK(dy.sizes() == gate.sizes(), "SwiGLU backward: dy {} for gate {}", shape(dy), shape(gate));
  const at::Tensor g = gate.contiguous(), u = up.contiguous();
  if (gate.is_cuda()) {
    const at::Tensor gy = dy.to(gate.scalar_type()).contiguous();
    at::Tensor dg = at::empty_like(g), du = at::empty_like(u);
    on_cuda(gate, [&](auto stream) {
      swiglu_backward_cuda(dtype, gy.const_data_ptr(), g.const_data_ptr(), u.const_data_ptr(), dg.mutable_data_ptr(),
                           du.mutable_data_ptr(), g.numel(), stream);
    });
    return {dg, du};
  }
  const at::Tensor g32 = f32(g), u32 = f32(u), gy32 = f32(dy);
  at::Tensor dg32 = at::empty_like(g32), du32 = at::empty_like(u32);
  swiglu_backward_ref(gy32.const_data_ptr<float>(), g32.const_data_ptr<float>(), u32.const_data_ptr<float>(),
                      dg32.mutable_data_ptr<float>(), du32.mutable_data_ptr<float>(), g.numel());
  return {dg32.to(gate.scalar_type()), du32.to(gate.scalar_type())};
}

// ---- cross-entropy ------------------------------------------------------------------------

CrossEntropyForward cross_entropy_forward(const at::Tensor& logits, const at::Tensor& targets) {
  const DType dtype = dtype_of(logits);
  DT_CHECK(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0) &&
               targets.scalar_type() == at::kLong,
           "cross-entropy: logits [N, V] and int64 targets [N], not {} and {} {}", shape(logits), shape(targets),
           c10::toString(targets.scalar_type()));
  check_same_device(targets, logits, "the targets");
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  const at::Tensor l = logits.contiguous(), t = targets.contiguous();
  at::Tensor loss = at::empty({rows}, logits.options().dtype(at::kFloat)), lse = at::empty_like(loss);
  if (logits.is_cuda()) {
    on_cuda(logits, [&](auto stream) {
      cross_entropy_forward_cuda(dtype, l.const_data_ptr(), t.const_data_ptr<int64_t>(), loss.mutable_data_ptr<float>(),
                                 lse.mutable_data_ptr<float>(), rows, vocab, kIgnoreIndex, stream);
    });
  } else {
    const at::Tensor l32 = f32(l);
    cross_entropy_forward_ref(l32.const_data_ptr<float>(), t.const_data_ptr<int64_t>(), loss.mutable_data_ptr<float>(),
                              lse.mutable_data_ptr<float>(), rows, vocab, kIgnoreIndex, kReferenceChunk);
  }
  return {loss.sum(), lse};
}

at::Tensor cross_entropy_backward(const at::Tensor& grad, const at::Tensor& logits, const at::Tensor& targets,
                                  const at::Tensor& lse) {
  const DType dtype = dtype_of(logits);
  DT_CHECK(grad.numel() == 1, "cross-entropy backward: the gradient of a sum is one number, not {}", shape(grad));
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  const at::Tensor g = f32(grad).to(logits.device()), l = logits.contiguous(), t = targets.contiguous(),
                   s = lse.contiguous();
  if (logits.is_cuda()) {
    at::Tensor d = at::empty_like(l);
    on_cuda(logits, [&](auto stream) {
      cross_entropy_backward_cuda(dtype, l.const_data_ptr(), t.const_data_ptr<int64_t>(), s.const_data_ptr<float>(),
                                  g.const_data_ptr<float>(), d.mutable_data_ptr(), rows, vocab, kIgnoreIndex, stream);
    });
    return d;
  }
  const at::Tensor l32 = f32(l);
  at::Tensor d32 = at::empty_like(l32);
  cross_entropy_backward_ref(l32.const_data_ptr<float>(), t.const_data_ptr<int64_t>(), s.const_data_ptr<float>(),
                             g.const_data_ptr<float>(), d32.mutable_data_ptr<float>(), rows, vocab, kIgnoreIndex);
  return d32.to(logits.scalar_type());
}

// ---- AdamW --------------------------------------------------------------------------------

namespace {

bool slot_fits(const AdamWSlot& s) {
  auto moment_fits = [&](const at::Tensor& m) {
    return m.defined() && m.scalar_type() == at::kFloat && m.is_contiguous() && m.device() == s.param.device() &&
           m.numel() == s.param.numel();
  };
  return s.param.defined() && supported_dtype(s.param) && s.param.is_contiguous() && s.grad.defined() &&
         supported_dtype(s.grad) && s.grad.device() == s.param.device() && s.grad.numel() == s.param.numel() &&
         moment_fits(s.exp_avg) && moment_fits(s.exp_avg_sq);
}

void adamw_reference(const AdamWSlot& s, const AdamWHyper& hyper) {
  at::Tensor p32 = f32(s.param);  // the parameter itself when it is fp32
  const at::Tensor g32 = f32(s.grad);
  const AdamWTensor t{p32.mutable_data_ptr(),
                      g32.const_data_ptr(),
                      s.exp_avg.mutable_data_ptr<float>(),
                      s.exp_avg_sq.mutable_data_ptr<float>(),
                      s.param.numel(),
                      s.decay};
  adamw_step_ref(&t, 1, hyper, s.param.scalar_type() == at::kBFloat16);
  if (!p32.is_same(s.param)) s.param.copy_(p32);
}

// fp32 CPU slots, split into ranges across the intra-op threads.
void adamw_cpu(const AdamWSlot& s, const AdamWHyper& hyper) {
  constexpr int64_t kGrain = 1 << 15;
  at::parallel_for(0, s.param.numel(), kGrain, [&](int64_t begin, int64_t end) {
    const AdamWTensor t{s.param.mutable_data_ptr<float>() + begin,
                        s.grad.const_data_ptr<float>() + begin,
                        s.exp_avg.mutable_data_ptr<float>() + begin,
                        s.exp_avg_sq.mutable_data_ptr<float>() + begin,
                        end - begin,
                        s.decay};
    adamw_step_cpu(&t, 1, hyper);
  });
}

bool cpu_fits(const AdamWSlot& s) {
  return s.param.is_cpu() && s.param.scalar_type() == at::kFloat && s.grad.scalar_type() == at::kFloat &&
         s.grad.is_contiguous();
}

}  // namespace

bool use_for_adamw(const AdamWSlot& slot) {
  if (!slot_fits(slot)) return false;
  return slot.param.is_cpu() ? cpu_fits(slot) && switched_on() : use_for(slot.param);
}

void fused_adamw_step(const std::vector<AdamWSlot>& slots, const AdamWHyper& hyper) {
  at::NoGradGuard no_grad;
  // CUDA slots by (device, param dtype, grad dtype): one multi-tensor call per group.
  std::map<std::tuple<c10::DeviceIndex, DType, DType>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const AdamWSlot& s = slots[i];
    DT_CHECK(slot_fits(s),
             "AdamW slot {}: a contiguous fp32/bf16 parameter, a gradient of its size and fp32 "
             "contiguous moments, all on one device, are needed",
             i);
    if (s.param.is_cuda())
      groups[{s.param.device().index(), dtype_of(s.param), dtype_of(s.grad)}].push_back(i);
    else if (cpu_fits(s))
      adamw_cpu(s, hyper);
    else
      adamw_reference(s, hyper);  // bf16 on the CPU: only tests get here
  }
  for (const auto& [key, members] : groups) {
    // Contiguous gradients live until the launch is queued; freed afterwards, their memory is
    // reused only by work ordered after it on the same stream.
    std::vector<at::Tensor> grads;
    std::vector<AdamWTensor> tensors;
    for (std::size_t i : members) {
      const AdamWSlot& s = slots[i];
      grads.push_back(s.grad.contiguous());
      tensors.push_back({s.param.mutable_data_ptr(), grads.back().const_data_ptr(), s.exp_avg.mutable_data_ptr<float>(),
                         s.exp_avg_sq.mutable_data_ptr<float>(), s.param.numel(), s.decay});
    }
    const auto param_dtype = std::get<1>(key), grad_dtype = std::get<2>(key);  // a lambda captures no binding (C++17)
    on_cuda(slots[members.front()].param, [&](auto stream) {
      adamw_step_cuda(param_dtype, grad_dtype, tensors.data(), static_cast<int64_t>(tensors.size()), hyper, stream);
    });
  }
}

}  // namespace dtbench::kernels
