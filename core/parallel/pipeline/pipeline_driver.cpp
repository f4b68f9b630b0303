#include "core/parallel/pipeline/pipeline_driver.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/parallel/pipeline/pipeline.h"
#include "core/report/clock.h"

namespace dtbench {

PipelineDriver::PipelineDriver(std::vector<TransformerImpl*> chunks, Communicator& pp, ChunkGradients& grads,
                               int64_t micro_batch, int64_t seq, int64_t sequence_split)
    : chunks_(std::move(chunks)),
      pp_(pp),
      grads_(grads),
      activation_shape_{micro_batch, seq / sequence_split, chunks_.front()->config().hidden} {}

double PipelineDriver::forward_backward(int64_t micro_batches, const Tokens& tokens, double divisor) {
  const int64_t m = micro_batches, v = static_cast<int64_t>(chunks_.size());
  double loss_sum = 0, compute_s = 0;
  // One chunk's forward: embed on the model's first chunk, the loss on its last.
  auto forward = [&](int64_t chunk, int64_t micro, const at::Tensor& input) {
    const Stopwatch clock;
    TransformerImpl& model = *chunks_[static_cast<std::size_t>(chunk)];
    // Token rows are read only where the chunk starts or ends the model.
    const at::Tensor batch = model.part().first || model.part().last ? tokens(micro) : at::Tensor();
    const int64_t t = batch.defined() ? batch.size(1) - 1 : 0;
    at::Tensor x = model.run_blocks(model.part().first ? model.embed_tokens(batch.narrow(1, 0, t)) : input);
    if (model.part().last) {
      const at::Tensor loss = model.head_loss_sum(x, batch.narrow(1, 1, t));
      loss_sum += loss.item<double>();
      x = loss / divisor;
    }
    compute_s += clock.elapsed_s();
    return x;
  };
  Stopwatch backward_clock;
  const at::TensorOptions options = chunks_.front()->parameters().front().options().requires_grad(false);
  if (v == 1) {
    PipelineStage stage;
    stage.forward = [&](int64_t micro, const at::Tensor& input) { return forward(0, micro, input); };
    stage.before_backward = [&](int64_t, bool final) {
      grads_.before_chunk_backward(0, final);
      backward_clock.reset();
    };
    stage.after_backward = [&](int64_t) { compute_s += backward_clock.elapsed_s(); };
    stage.activation_shape = activation_shape_;
    stage.activation_options = options;
    run_pipeline(pp_, one_f_one_b(pp_.size(), pp_.rank(), m), stage, m);
  } else {
    ChunkedStage stage;
    stage.forward = forward;
    // Within a chunk the backwards run in micro-batch order: the last one reduces.
    stage.before_backward = [&](int64_t chunk, int64_t micro) {
      grads_.before_chunk_backward(chunk, micro == m - 1);
      backward_clock.reset();
    };
    stage.after_backward = [&](int64_t, int64_t) { compute_s += backward_clock.elapsed_s(); };
    stage.activation_shape = activation_shape_;
    stage.activation_options = options;
    run_timetable(pp_, interleaved_timetable(pp_.size(), v, m), v, stage);
  }
  grads_.finish_step();
  // The slowest stage's compute per micro-batch (all its chunks), for the bubble.
  at::Tensor slowest = at::full({1}, compute_s / static_cast<double>(m), at::kDouble);
  pp_.all_reduce(slowest, ReduceOp::kMax)->wait();
  compute_per_micro_.push_back(slowest.item<double>());
  micro_batches_ = m;
  return loss_sum;
}

nlohmann::json PipelineDriver::metrics(double step_time_s) {
  if (compute_per_micro_.empty()) return nlohmann::json::object();
  // The first step warms up, as the loop's step times do.
  std::vector<double> c(compute_per_micro_.begin() + (compute_per_micro_.size() > 1 ? 1 : 0), compute_per_micro_.end());
  std::sort(c.begin(), c.end());
  const double per_micro = c[c.size() / 2];
  const double p = static_cast<double>(pp_.size()), m = static_cast<double>(micro_batches_);
  const double v = static_cast<double>(chunks_.size());
  return {{"pipeline_bubble_measured", 1.0 - m * per_micro / step_time_s},
          {"pipeline_bubble_ideal", (p - 1) / (v * m + p - 1)},
          {"pipeline_stage_compute_per_micro_batch_s", per_micro}};
}

}  // namespace dtbench
