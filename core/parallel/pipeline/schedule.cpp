#include "core/parallel/pipeline/schedule.h"

#include <algorithm>

#include <fmt/format.h>

namespace dtbench {

std::vector<PipeAction> one_f_one_b(int64_t stages, int64_t stage, int64_t micro) {
  const bool first = stage == 0, last = stage == stages - 1;
  std::vector<PipeAction> out;
  // What a stage at an end of the pipeline has no neighbour for becomes the half that is
  // left, or nothing.
  auto recv_forward = [&](int64_t m) { if (!first) out.push_back({PipeOp::kRecvForward, m}); };
  auto send_forward = [&](int64_t m) { if (!last) out.push_back({PipeOp::kSendForward, m}); };
  auto send_backward = [&](int64_t m) { if (!first) out.push_back({PipeOp::kSendBackward, m}); };
  auto recv_backward = [&](int64_t m) { if (!last) out.push_back({PipeOp::kRecvBackward, m}); };
  auto send_forward_recv_backward = [&](int64_t f, int64_t b) {
    if (!last) out.push_back({PipeOp::kSendForwardRecvBackward, f, b});
  };
  auto send_backward_recv_forward = [&](int64_t b, int64_t f) {
    if (!first) out.push_back({PipeOp::kSendBackwardRecvForward, b, f});
  };
  const int64_t warmup = std::min(stages - stage - 1, micro), steady = micro - warmup;
  for (int64_t m = 0; m < warmup; ++m) {
    recv_forward(m);
    out.push_back({PipeOp::kForward, m});
    send_forward(m);
  }
  if (steady > 0) recv_forward(warmup);
  for (int64_t i = 0; i < steady; ++i) {
    const int64_t f = warmup + i, b = i;
    out.push_back({PipeOp::kForward, f});
    send_forward_recv_backward(f, b);
    out.push_back({PipeOp::kBackward, b});
    if (i + 1 == steady)
      send_backward(b);
    else
      send_backward_recv_forward(b, f + 1);
  }
  for (int64_t b = steady; b < micro; ++b) {
    recv_backward(b);
    out.push_back({PipeOp::kBackward, b});
    send_backward(b);
  }
  return out;
}

std::string to_string(const PipeAction& a) {
  static const char* names[] = {"recv_fwd", "F", "send_fwd", "send_fwd+recv_bwd", "B", "send_bwd", "send_bwd+recv_fwd",
                                "recv_bwd"};
  std::string s = fmt::format("{}{}", names[static_cast<int>(a.op)], a.micro);
  if (a.micro2 >= 0) s += fmt::format("/{}", a.micro2);
  return s;
}

}  // namespace dtbench
