#include "core/parallel/pipeline/schedule.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace dtbench {

std::vector<PipeAction> one_f_one_b(int64_t stages, int64_t stage, int64_t micro) {
  const bool first = stage == 0, last = stage == stages - 1;
  std::vector<PipeAction> out;
  // What a stage at an end of the pipeline has no neighbour for becomes the half that is
  // left, or nothing.
  auto recv_forward = [&](int64_t m) {
    if (!first) out.push_back({PipeOp::kRecvForward, m});
  };
  auto send_forward = [&](int64_t m) {
    if (!last) out.push_back({PipeOp::kSendForward, m});
  };
  auto send_backward = [&](int64_t m) {
    if (!first) out.push_back({PipeOp::kSendBackward, m});
  };
  auto recv_backward = [&](int64_t m) {
    if (!last) out.push_back({PipeOp::kRecvBackward, m});
  };
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

std::vector<std::vector<PipeTick>> interleaved_timetable(int64_t stages, int64_t chunks, int64_t micro) {
  const int64_t p = stages, v = chunks, total = micro * chunks;
  // Megatron's orders: forwards chunk by chunk within groups of p micro-batches; backwards
  // the same with the chunks reversed.
  std::vector<PipeItem> f_order, b_order;
  for (int64_t g = 0; g < micro / p; ++g) {
    for (int64_t c = 0; c < v; ++c)
      for (int64_t k = 0; k < p; ++k) f_order.push_back({c, g * p + k});
    for (int64_t c = v - 1; c >= 0; --c)
      for (int64_t k = 0; k < p; ++k) b_order.push_back({c, g * p + k});
  }
  // done[s][c][m]: the tick at which stage s finished that forward (or backward); -1 not yet.
  auto grid = [&] {
    return std::vector<std::vector<std::vector<int64_t>>>(
        p, std::vector<std::vector<int64_t>>(v, std::vector<int64_t>(micro, -1)));
  };
  auto f_done = grid(), b_done = grid();
  std::vector<int64_t> nf(p, 0), nb(p, 0);
  std::vector<std::vector<PipeTick>> table(p);
  for (int64_t t = 0; std::any_of(nb.begin(), nb.end(), [&](int64_t n) { return n < total; }); ++t) {
    if (t > 16 * (total + p)) return {};  // cannot happen; the unit test would see it
    for (int64_t s = 0; s < p; ++s) {
      PipeTick tick;
      const int64_t limit = std::min(total, (p - s - 1) * 2 + (v - 1) * p + 1);
      if (nf[s] < total && nf[s] - nb[s] < limit) {
        const PipeItem it = f_order[nf[s]];
        const int64_t ready = s > 0          ? f_done[s - 1][it.chunk][it.micro]
                              : it.chunk > 0 ? f_done[p - 1][it.chunk - 1][it.micro]
                                             : t - 1;
        if (ready >= 0 && ready < t) {
          tick.forward = it;
          f_done[s][it.chunk][it.micro] = t;
          ++nf[s];
        }
      }
      if (nb[s] < total) {
        const PipeItem it = b_order[nb[s]];
        const bool loss_here = s == p - 1 && it.chunk == v - 1;
        const int64_t ready = loss_here   ? f_done[s][it.chunk][it.micro]  // same tick is fine: F runs first
                              : s < p - 1 ? b_done[s + 1][it.chunk][it.micro]
                                          : b_done[0][it.chunk + 1][it.micro];
        if (ready >= 0 && (ready < t || (loss_here && ready == t))) {
          tick.backward = it;
          b_done[s][it.chunk][it.micro] = t;
          ++nb[s];
        }
      }
      table[s].push_back(tick);
    }
  }
  return table;
}

std::string to_string(const PipeAction& a) {
  static const char* names[] = {"recv_fwd", "F",        "send_fwd",          "send_fwd+recv_bwd",
                                "B",        "send_bwd", "send_bwd+recv_fwd", "recv_bwd"};
  std::string s = fmt::format("{}{}", names[static_cast<int>(a.op)], a.micro);
  if (a.micro2 >= 0) s += fmt::format("/{}", a.micro2);
  return s;
}

}  // namespace dtbench
