#include "core/parallel/pipeline/pipeline.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <map>

#include "core/report/errors.h"

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
        auto it = inputs.find(a.micro);
        at::Tensor in = it == inputs.end() ? at::Tensor() : it->second;
        outputs[a.micro] = stage.forward(a.micro, in);
        break;
      }
      case PipeOp::kSendForward: pp.send(outputs.at(a.micro).detach().contiguous(), next)->wait(); break;
      case PipeOp::kSendForwardRecvBackward: {
        at::Tensor g = buffer();
        pp.send_recv(outputs.at(a.micro).detach().contiguous(), next, g, next)->wait();
        grad_outputs[a.micro2] = g;
        break;
      }
      case PipeOp::kBackward: {
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
      case PipeOp::kSendBackward: pp.send(take(grad_inputs, a.micro, "input gradient"), prev)->wait(); break;
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

}  // namespace dtbench
