#include "core/parallel/pipeline/pipeline.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/autograd.h>

#include <map>

#include "core/report/errors.h"
#include "core/report/span.h"

namespace dtbench {

void run_pipeline(Communicator& pp, const std::vector<PipeAction>& schedule, const PipelineStage& stage,
                  int64_t micro_batches) {
  const int prev = pp.rank() - 1, next = pp.rank() + 1;
  const bool last_stage = next == pp.size();
  std::map<int64_t, at::Tensor> inputs, outputs, grad_outputs, grad_inputs;
  auto buffer = [&] { return at::empty(stage.activation_shape, stage.activation_options); };
  auto take = [](std::map<int64_t, at::Tensor>& m, int64_t k, const char* what) {
    auto it = m.find(k);
    DT_CHECK(it != m.end(), "pipeline: no {} for micro-batch {}", what, k);
    at::Tensor t = it->second;
    m.erase(it);
    return t;
  };
  for (const PipeAction& a : schedule) {
    switch (a.op) {
      case PipeOp::kRecvForward: {
        at::Tensor t = buffer();
        pp.recv(t, prev)->wait();
        inputs[a.micro] = t.requires_grad_(true);
        break;
      }
      case PipeOp::kForward: {
        const Span span(fmt::format("pipeline forward micro-batch {}", a.micro));
        auto it = inputs.find(a.micro);
        at::Tensor in = it == inputs.end() ? at::Tensor() : it->second;
        outputs[a.micro] = stage.forward(a.micro, in);
        break;
      }
      case PipeOp::kSendForward:
        pp.send(outputs.at(a.micro).detach().contiguous(), next)->wait();
        break;
      case PipeOp::kSendForwardRecvBackward: {
        at::Tensor g = buffer();
        pp.send_recv(outputs.at(a.micro).detach().contiguous(), next, g, next)->wait();
        grad_outputs[a.micro2] = g;
        break;
      }
      case PipeOp::kBackward: {
        const Span span(fmt::format("pipeline backward micro-batch {}", a.micro));
        stage.before_backward(a.micro, a.micro + 1 == micro_batches);
        at::Tensor out = take(outputs, a.micro, "output");
        if (last_stage)
          torch::autograd::backward({out});
        else
          torch::autograd::backward({out}, {take(grad_outputs, a.micro, "output gradient")});
        if (stage.after_backward) stage.after_backward(a.micro);
        auto it = inputs.find(a.micro);
        if (it != inputs.end()) {
          grad_inputs[a.micro] = it->second.grad();
          inputs.erase(it);
        }
        break;
      }
      case PipeOp::kSendBackward:
        pp.send(take(grad_inputs, a.micro, "input gradient"), prev)->wait();
        break;
      case PipeOp::kSendBackwardRecvForward: {
        at::Tensor t = buffer();
        pp.send_recv(take(grad_inputs, a.micro, "input gradient"), prev, t, prev)->wait();
        inputs[a.micro2] = t.requires_grad_(true);
        break;
      }
      case PipeOp::kRecvBackward: {
        at::Tensor g = buffer();
        pp.recv(g, next)->wait();
        grad_outputs[a.micro] = g;
        break;
      }
    }
  }
  DT_CHECK(outputs.empty() && grad_outputs.empty() && grad_inputs.empty(), "pipeline: the schedule left work undone");
}

void run_timetable(Communicator& pp, const std::vector<std::vector<PipeTick>>& table, int64_t chunks,
                   const ChunkedStage& stage) {
  const int64_t p = pp.size(), s = pp.rank(), next = (s + 1) % p, prev = (s + p - 1) % p;
  using Key = std::pair<int64_t, int64_t>;  // (chunk, micro)
  std::map<Key, at::Tensor> inputs, outputs, grad_outputs;
  const at::Tensor idle = at::zeros(stage.activation_shape, stage.activation_options);
  auto model_end = [&](int64_t st, int64_t c) { return st == p - 1 && c == chunks - 1; };
  auto model_start = [&](int64_t st, int64_t c) { return st == 0 && c == 0; };
  for (std::size_t t = 0; t < table[s].size(); ++t) {
    const PipeTick& tick = table[s][t];
    const Span span(fmt::format("pipeline tick {}", t));
    at::Tensor send_f = idle, send_b = idle;
    if (tick.forward.some()) {
      const Key k{tick.forward.chunk, tick.forward.micro};
      at::Tensor in;
      if (!model_start(s, k.first)) {
        auto it = inputs.find(k);
        DT_CHECK(it != inputs.end(), "pipeline: no input for chunk {} micro-batch {}", k.first, k.second);
        in = it->second;
      }
      at::Tensor out = stage.forward(k.first, k.second, in);
      if (!model_end(s, k.first)) send_f = out.detach().contiguous();
      outputs[k] = out;
    }
    if (tick.backward.some()) {
      const Key k{tick.backward.chunk, tick.backward.micro};
      stage.before_backward(k.first, k.second);
      at::Tensor out = outputs.at(k);
      outputs.erase(k);
      if (model_end(s, k.first)) {
        torch::autograd::backward({out});
      } else {
        torch::autograd::backward({out}, {grad_outputs.at(k)});
        grad_outputs.erase(k);
      }
      stage.after_backward(k.first, k.second);
      if (!model_start(s, k.first)) {
        send_b = inputs.at(k).grad();
        inputs.erase(k);
      }
    }
    // Who sends what this tick, for every stage (the table is everyone's).
    bool any_f = false, any_b = false;
    for (int64_t st = 0; st < p; ++st) {
      const PipeTick& o = table[st][t];
      any_f = any_f || (o.forward.some() && !model_end(st, o.forward.chunk));
      any_b = any_b || (o.backward.some() && !model_start(st, o.backward.chunk));
    }
    if (any_f) {
      at::Tensor got = at::empty(stage.activation_shape, stage.activation_options);
      pp.send_recv(send_f, static_cast<int>(next), got, static_cast<int>(prev))->wait();
      const PipeItem from = table[prev][t].forward;
      if (from.some() && !model_end(prev, from.chunk))
        inputs[{prev == p - 1 ? from.chunk + 1 : from.chunk, from.micro}] = got.requires_grad_(true);
    }
    if (any_b) {
      at::Tensor got = at::empty(stage.activation_shape, stage.activation_options);
      pp.send_recv(send_b, static_cast<int>(prev), got, static_cast<int>(next))->wait();
      const PipeItem from = table[next][t].backward;
      if (from.some() && !model_start(next, from.chunk))
        grad_outputs[{next == 0 ? from.chunk - 1 : from.chunk, from.micro}] = got;
    }
  }
  DT_CHECK(outputs.empty() && grad_outputs.empty(), "pipeline: the timetable left work undone");
}

}  // namespace dtbench
