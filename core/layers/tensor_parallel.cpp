#include "core/layers/tensor_parallel.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <limits>

#include "core/comm/communicator.h"

namespace dtbench {

int64_t TensorParallel::size() const { return comm ? comm->size() : 1; }
int64_t TensorParallel::rank() const { return comm ? comm->rank() : 0; }

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

Communicator* comm_of(AutogradContext* ctx) { return reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt()); }

at::Tensor all_reduce_sum(const at::Tensor& x, Communicator& c) {
  at::Tensor y = x.contiguous().clone();
  c.all_reduce(y, ReduceOp::kSum)->wait();
  return y;
}

// [b, t_local, h] -> [b, t_local * n, h]: the sequence chunks of every rank, in rank order.
at::Tensor gather_sequence(const at::Tensor& x, Communicator& c) {
  const at::Tensor in = x.transpose(0, 1).contiguous();  // [t_local, b, h]: chunks along t are flat
  auto sizes = in.sizes().vec();
  sizes[0] *= c.size();
  at::Tensor out = at::empty(sizes, in.options());
  c.all_gather(in, out)->wait();
  return out.transpose(0, 1);
}

// [b, t, h] partial sums -> [b, t / n, h]: this rank's sequence chunk of the sum.
at::Tensor reduce_scatter_sequence(const at::Tensor& x, Communicator& c) {
  const at::Tensor in = x.transpose(0, 1).contiguous();
  auto sizes = in.sizes().vec();
  sizes[0] /= c.size();
  at::Tensor out = at::empty(sizes, in.options());
  c.reduce_scatter(in, out, ReduceOp::kSum)->wait();
  return out.transpose(0, 1);
}

struct CopyToRegion : torch::autograd::Function<CopyToRegion> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Communicator* c) {
    ctx->saved_data["comm"] = reinterpret_cast<int64_t>(c);
    return x.view_as(x);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    return {all_reduce_sum(g[0], *comm_of(ctx)), {}};
  }
};

struct ReduceFromRegion : torch::autograd::Function<ReduceFromRegion> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& x, Communicator* c) { return all_reduce_sum(x, *c); }
  static variable_list backward(AutogradContext*, variable_list g) { return {g[0], {}}; }
};

struct GatherSequence : torch::autograd::Function<GatherSequence> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Communicator* c) {
    ctx->saved_data["comm"] = reinterpret_cast<int64_t>(c);
    return gather_sequence(x, *c);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    return {reduce_scatter_sequence(g[0], *comm_of(ctx)), {}};
  }
};

struct ReduceScatterSequence : torch::autograd::Function<ReduceScatterSequence> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Communicator* c) {
    ctx->saved_data["comm"] = reinterpret_cast<int64_t>(c);
    return reduce_scatter_sequence(x, *c);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    return {gather_sequence(g[0], *comm_of(ctx)), {}};
  }
};

struct VocabParallelCrossEntropy : torch::autograd::Function<VocabParallelCrossEntropy> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets,
                            int64_t vocab_start, int64_t vocab, Communicator* c) {
    const int64_t v_local = logits.size(1);
    at::Tensor z = logits.clone();
    const int64_t real = std::max<int64_t>(0, std::min(v_local, vocab - vocab_start));
    if (real < v_local) z.narrow(1, real, v_local - real).fill_(-std::numeric_limits<float>::infinity());
    at::Tensor m = std::get<0>(z.max(1));
    if (c) c->all_reduce(m, ReduceOp::kMax)->wait();
    z.sub_(m.unsqueeze(1)).exp_();  // z = exp(logit - max); padding columns 0
    at::Tensor s = z.sum(1);
    const at::Tensor local = targets - vocab_start;
    const at::Tensor mine = (local >= 0) & (local < v_local);
    const at::Tensor idx = at::where(mine, local, at::zeros_like(local));
    at::Tensor t = logits.gather(1, idx.unsqueeze(1)).squeeze(1) * mine.to(logits.scalar_type());
    if (c) {
      c->all_reduce(s, ReduceOp::kSum)->wait();
      c->all_reduce(t, ReduceOp::kSum)->wait();
    }
    z.div_(s.unsqueeze(1));  // this rank's columns of the softmax
    ctx->save_for_backward({z, idx, mine});
    return (s.log() + m - t).sum();
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    auto saved = ctx->get_saved_variables();
    at::Tensor grad = saved[0].clone();
    grad.scatter_add_(1, saved[1].unsqueeze(1), -saved[2].to(grad.scalar_type()).unsqueeze(1));
    return {grad.mul_(g[0]), {}, {}, {}, {}};
  }
};

}  // namespace

at::Tensor enter_parallel_region(const at::Tensor& x, const TensorParallel& tp) {
  if (tp.size() == 1) return x;
  return tp.sequence_parallel ? GatherSequence::apply(x, tp.comm) : CopyToRegion::apply(x, tp.comm);
}

at::Tensor exit_parallel_region(const at::Tensor& x, const TensorParallel& tp) {
  if (tp.size() == 1) return x;
  return tp.sequence_parallel ? ReduceScatterSequence::apply(x, tp.comm) : ReduceFromRegion::apply(x, tp.comm);
}

at::Tensor vocab_parallel_cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets, int64_t vocab_start,
                                            int64_t vocab, const TensorParallel& tp) {
  return VocabParallelCrossEntropy::apply(logits, targets, vocab_start, vocab, tp.size() == 1 ? nullptr : tp.comm);
}

}  // namespace dtbench
