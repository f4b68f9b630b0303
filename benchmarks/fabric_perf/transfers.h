// fabric_perf's three measurements between rank 0 and rank 1 on one Endpoint, as the OSU
// micro-benchmarks define them: ping-pong latency (half the round trip), unidirectional
// bandwidth (a window of sends, one acknowledgement) and bidirectional bandwidth (both
// sides send a window at once), plus a checked exchange that verifies every byte.
#pragma once

#include <cstdint>
#include <vector>

#include "benchmarks/fabric_perf/endpoint.h"

namespace dtbench::fabric {

struct Pair {
  Endpoint& ep;
  uint64_t peer;  // the other rank's fi_addr
  int rank;       // 0 or 1
  Region& send;   // at least the largest message
  Region& recv;
};

// Seconds per iteration, one sample per timed iteration (rank 0's clock; rank 1 returns
// its own). `window` messages per bandwidth iteration.
std::vector<double> ping_pong(Pair& p, size_t bytes, int warmup, int iters);
std::vector<double> unidirectional(Pair& p, size_t bytes, int window, int warmup, int iters);
std::vector<double> bidirectional(Pair& p, size_t bytes, int window, int warmup, int iters);

// Both ranks send `bytes` of a pattern that depends on the sender, the size and the byte
// index into a receive buffer poisoned with its complement; returns the bytes that arrived
// wrong on this rank.
int64_t checked_exchange(Pair& p, size_t bytes);

}  // namespace dtbench::fabric
