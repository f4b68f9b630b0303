// Pipeline schedules as pure functions: every micro-batch runs forward then backward once
// on every stage, at most stages - s activations are alive on stage s, and the stages'
// transfers pair up in an order that blocking sends and receives complete (a simulation of
// rendezvous point-to-point: a transfer completes only when both sides have reached it).
#include <catch2/catch.hpp>

#include <map>
#include <tuple>

#include "core/parallel/pipeline/schedule.h"

using namespace dtbench;

namespace {

// One endpoint of a transfer on the link between stages s and s+1: (link, direction, micro).
struct Half {
  int64_t link;
  bool forward;  // activation (s -> s+1) or gradient (s+1 -> s)
  int64_t micro;
  bool operator<(const Half& o) const { return std::tie(link, forward, micro) < std::tie(o.link, o.forward, o.micro); }
};

// The transfers an action takes part in, as (send?, half).
std::vector<std::pair<bool, Half>> transfers(const PipeAction& a, int64_t s) {
  switch (a.op) {
    case PipeOp::kRecvForward:
      return {{false, {s - 1, true, a.micro}}};
    case PipeOp::kSendForward:
      return {{true, {s, true, a.micro}}};
    case PipeOp::kSendForwardRecvBackward:
      return {{true, {s, true, a.micro}}, {false, {s, false, a.micro2}}};
    case PipeOp::kSendBackward:
      return {{true, {s - 1, false, a.micro}}};
    case PipeOp::kSendBackwardRecvForward:
      return {{true, {s - 1, false, a.micro}}, {false, {s - 1, true, a.micro2}}};
    case PipeOp::kRecvBackward:
      return {{false, {s, false, a.micro}}};
    default:
      return {};
  }
}

// Runs all stages' schedules with rendezvous transfers; true when every stage finishes.
bool completes(const std::vector<std::vector<PipeAction>>& stages) {
  std::vector<std::size_t> pc(stages.size(), 0);
  for (bool progress = true; progress;) {
    progress = false;
    // Each stage offers the transfers of its current action; those whose other side is
    // offered too complete. Compute actions complete on their own.
    std::map<Half, int> offered;  // bit 1: sender there, bit 2: receiver there
    for (std::size_t s = 0; s < stages.size(); ++s)
      if (pc[s] < stages[s].size())
        for (auto& [send, h] : transfers(stages[s][pc[s]], static_cast<int64_t>(s))) offered[h] |= send ? 1 : 2;
    for (std::size_t s = 0; s < stages.size(); ++s) {
      if (pc[s] >= stages[s].size()) continue;
      bool ready = true;
      for (auto& [send, h] : transfers(stages[s][pc[s]], static_cast<int64_t>(s))) ready = ready && offered[h] == 3;
      if (ready) {
        ++pc[s];
        progress = true;
      }
    }
  }
  for (std::size_t s = 0; s < stages.size(); ++s)
    if (pc[s] != stages[s].size()) return false;
  return true;
}

}  // namespace

TEST_CASE("1F1B: each micro-batch forward then backward once per stage, bounded activations, no deadlock") {
  for (int64_t p : {1, 2, 3, 4}) {
    for (int64_t m : {1, 2, 3, 4, 8}) {
      std::vector<std::vector<PipeAction>> all;
      for (int64_t s = 0; s < p; ++s) {
        const auto sched = one_f_one_b(p, s, m);
        std::map<int64_t, int> fwd, bwd;
        int64_t alive = 0, peak = 0;
        for (const auto& a : sched) {
          if (a.op == PipeOp::kForward) {
            CHECK(bwd[a.micro] == 0);
            ++fwd[a.micro];
            peak = std::max(peak, ++alive);
          }
          if (a.op == PipeOp::kBackward) {
            CHECK(fwd[a.micro] == 1);
            ++bwd[a.micro];
            --alive;
          }
        }
        for (int64_t k = 0; k < m; ++k) CHECK((fwd[k] == 1 && bwd[k] == 1));
        CHECK(peak <= std::min(p - s, m));
        all.push_back(sched);
      }
      INFO("stages " << p << ", micro-batches " << m);
      CHECK(completes(all));
    }
  }
}

TEST_CASE("1F1B on 2 stages, 3 micro-batches, as Megatron runs it") {
  std::string s0, s1;
  for (const auto& a : one_f_one_b(2, 0, 3)) s0 += to_string(a) + " ";
  for (const auto& a : one_f_one_b(2, 1, 3)) s1 += to_string(a) + " ";
  CHECK(s0 == "F0 send_fwd0 F1 send_fwd+recv_bwd1/0 B0 F2 send_fwd+recv_bwd2/1 B1 recv_bwd2 B2 ");
  CHECK(s1 == "recv_fwd0 F0 B0 send_bwd+recv_fwd0/1 F1 B1 send_bwd+recv_fwd1/2 F2 B2 send_bwd2 ");
}

TEST_CASE("interleaved timetable: every (chunk, micro-batch) once per stage, after what it needs") {
  for (int64_t p : {2, 3, 4}) {
    for (int64_t v : {1, 2, 3}) {
      for (int64_t m : {p, 2 * p, 4 * p}) {
        INFO("stages " << p << ", chunks " << v << ", micro-batches " << m);
        const auto table = interleaved_timetable(p, v, m);
        REQUIRE(static_cast<int64_t>(table.size()) == p);
        std::map<std::tuple<int64_t, int64_t, int64_t>, int64_t> f, b;  // (stage, chunk, micro) -> tick
        for (int64_t s = 0; s < p; ++s)
          for (int64_t t = 0; t < static_cast<int64_t>(table[s].size()); ++t) {
            const PipeTick& k = table[s][t];
            if (k.forward.some()) CHECK(f.emplace(std::make_tuple(s, k.forward.chunk, k.forward.micro), t).second);
            if (k.backward.some()) CHECK(b.emplace(std::make_tuple(s, k.backward.chunk, k.backward.micro), t).second);
          }
        CHECK(static_cast<int64_t>(f.size()) == p * v * m);
        CHECK(static_cast<int64_t>(b.size()) == p * v * m);
        for (auto& [key, t] : f) {
          auto [s, c, mb] = key;
          if (s > 0) CHECK(f.at({s - 1, c, mb}) < t);  // the activation arrives the tick after
          if (s == 0 && c > 0) CHECK(f.at({p - 1, c - 1, mb}) < t);
          CHECK(b.at(key) >= t);
        }
        for (auto& [key, t] : b) {
          auto [s, c, mb] = key;
          if (s < p - 1) CHECK(b.at({s + 1, c, mb}) < t);
          if (s == p - 1 && c < v - 1) CHECK(b.at({0, c + 1, mb}) < t);
        }
      }
    }
  }
}

TEST_CASE("interleaving shortens the pipeline: fewer ticks than without virtual stages, per unit of work") {
  // 4 stages, 8 micro-batches: ticks per chunk of work fall as chunks rise (the bubble shrinks).
  const double one = static_cast<double>(interleaved_timetable(4, 1, 8)[0].size()) / 8;
  const double two = static_cast<double>(interleaved_timetable(4, 2, 8)[0].size()) / 16;
  CHECK(two < one);
}
