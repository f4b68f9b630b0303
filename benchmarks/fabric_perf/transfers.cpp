#include "benchmarks/fabric_perf/transfers.h"

#include "core/report/clock.h"

namespace dtbench::fabric {

namespace {

constexpr size_t kAckBytes = 4;

uint8_t pattern(int sender, size_t bytes, size_t i) {
  return static_cast<uint8_t>(i * 7 + static_cast<size_t>(sender) * 101 + bytes * 13 + 1);
}

// Runs `iteration` warm-up + timed times; returns the timed ones' durations.
template <typename F>
std::vector<double> timed(int warmup, int iters, F iteration) {
  for (int i = 0; i < warmup; ++i) iteration();
  std::vector<double> samples;
  samples.reserve(iters);
  for (int i = 0; i < iters; ++i) {
    const double t0 = now_s();
    iteration();
    samples.push_back(now_s() - t0);
  }
  return samples;
}

}  // namespace

std::vector<double> ping_pong(Pair& p, size_t bytes, int warmup, int iters) {
  // Rank 1 keeps a receive posted ahead, so that rank 0's message never waits for it.
  if (p.rank == 1) p.ep.post_recv(p.recv, 0, bytes, p.peer);
  int left = warmup + iters;
  return timed(warmup, iters, [&] {
    --left;
    if (p.rank == 0) {
      p.ep.post_recv(p.recv, 0, bytes, p.peer);
      p.ep.post_send(p.send, 0, bytes, p.peer);
      p.ep.wait(1, 1);
    } else {
      p.ep.wait(0, 1);
      if (left > 0) p.ep.post_recv(p.recv, 0, bytes, p.peer);
      p.ep.post_send(p.send, 0, bytes, p.peer);
      p.ep.wait(1, 0);
    }
  });
}

std::vector<double> unidirectional(Pair& p, size_t bytes, int window, int warmup, int iters) {
  // Rank 0 sends `window` messages; rank 1 receives them all, then acknowledges. The
  // acknowledgement lands past the data in the receive buffer, so it never overlaps it.
  return timed(warmup, iters, [&] {
    if (p.rank == 0) {
      p.ep.post_recv(p.recv, bytes, kAckBytes, p.peer);
      for (int m = 0; m < window; ++m) p.ep.post_send(p.send, 0, bytes, p.peer);
      p.ep.wait(window, 1);
    } else {
      for (int m = 0; m < window; ++m) p.ep.post_recv(p.recv, 0, bytes, p.peer);
      p.ep.wait(0, window);
      p.ep.post_send(p.send, 0, kAckBytes, p.peer);
      p.ep.wait(1, 0);
    }
  });
}

std::vector<double> bidirectional(Pair& p, size_t bytes, int window, int warmup, int iters) {
  return timed(warmup, iters, [&] {
    for (int m = 0; m < window; ++m) p.ep.post_recv(p.recv, 0, bytes, p.peer);
    for (int m = 0; m < window; ++m) p.ep.post_send(p.send, 0, bytes, p.peer);
    p.ep.wait(window, window);
  });
}

int64_t checked_exchange(Pair& p, size_t bytes) {
  const int peer_rank = 1 - p.rank;
  uint8_t* out = p.send.data();
  uint8_t* in = p.recv.data();
  for (size_t i = 0; i < bytes; ++i) {
    out[i] = pattern(p.rank, bytes, i);
    in[i] = static_cast<uint8_t>(~pattern(peer_rank, bytes, i));
  }
  p.ep.post_recv(p.recv, 0, bytes, p.peer);
  p.ep.post_send(p.send, 0, bytes, p.peer);
  p.ep.wait(1, 1);
  int64_t wrong = 0;
  for (size_t i = 0; i < bytes; ++i) wrong += in[i] != pattern(peer_rank, bytes, i);
  return wrong;
}

}  // namespace dtbench::fabric
