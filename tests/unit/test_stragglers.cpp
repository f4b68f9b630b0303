// Straggler attribution (core/train/stragglers.h) on hand-made op times: a rank that computes
// longer is named for compute, one whose transfers end later for network, a healthy set with
// jitter names nobody, and clocks that differ by their measured offsets change nothing.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/train/stragglers.h"

using namespace dtbench;

namespace {

// 4 ranks, 6 steps of 100 ms, 3 all_reduces per step over every rank. Each op starts after
// `gap` of compute from the end of the rank's previous op; an op ends for everybody when the
// last rank has entered it plus 5 ms, and `extra_end` later for a rank with a slow link; each
// rank waits for every op as soon as it has issued it.
std::vector<RankOps> run(double slow_compute_rank3, double slow_link_rank3, double jitter = 0) {
  std::vector<RankOps> ranks(4);
  for (int r = 0; r < 4; ++r) {
    ranks[r].rank = r;
    ranks[r].host = r < 2 ? "node0" : "node1";
  }
  std::vector<double> busy(4, 0.0);
  uint64_t seq = 0;
  for (int64_t step = 0; step < 6; ++step) {
    for (int op = 0; op < 3; ++op, ++seq) {
      std::vector<double> start(4);
      for (int r = 0; r < 4; ++r) {
        const double noise = jitter * std::sin((static_cast<double>(seq) * 7 + r * 3.0));
        start[r] = busy[r] + 0.02 + (r == 3 ? slow_compute_rank3 : 0.0) + noise;
      }
      const double last = *std::max_element(start.begin(), start.end());
      for (int r = 0; r < 4; ++r) {
        const double end = last + 0.005 + (r == 3 ? slow_link_rank3 : 0.0);
        ranks[r].ops.push_back({"world@0-3#" + std::to_string(seq), step, start[r], end});
        ranks[r].blocked_s[step] += end - start[r];  // each op waited for at once
        busy[r] = end;
      }
    }
    for (int r = 0; r < 4; ++r) ranks[r].step_s[step] = 0.1;
  }
  return ranks;
}

}  // namespace

TEST_CASE("stragglers: a rank that computes longer is named for compute", "[stragglers]") {
  const StragglerReport rep = attribute_stragglers(run(0.01, 0));
  const auto s = rep.stragglers();
  REQUIRE(s.size() == 1);
  CHECK(s[0]->rank == 3);
  CHECK(s[0]->host == "node1");
  CHECK(s[0]->cause == "compute");
  CHECK(s[0]->score == Approx(0.3).epsilon(0.01));  // 3 ops x 10 ms of a 100 ms step
  CHECK(s[0]->compute_beyond_s == Approx(0.03).epsilon(0.01));
  CHECK(stragglers_text(rep) == "rank 3 (node1) 0.30 compute");
  const nlohmann::json j = stragglers_json(rep);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["rank"] == 3);
  CHECK(j[0]["cause"] == "compute");
}

TEST_CASE("stragglers: a rank whose transfers end later is named for network", "[stragglers]") {
  const StragglerReport rep = attribute_stragglers(run(0, 0.01));
  const auto s = rep.stragglers();
  REQUIRE(s.size() == 1);
  CHECK(s[0]->rank == 3);
  CHECK(s[0]->cause == "network");
  CHECK(s[0]->late_beyond_s == Approx(0.03).epsilon(0.01));  // 10 ms at each op after the first
  CHECK(s[0]->compute_beyond_s == Approx(0).margin(1e-9));   // its own work is the others'
  CHECK(s[0]->in_comm_s.at(2) > rep.ranks[0].in_comm_s.at(2) - 1e-9);
}

TEST_CASE("stragglers: a healthy run with jitter names nobody", "[stragglers]") {
  const StragglerReport rep = attribute_stragglers(run(0, 0, 0.001));
  CHECK(rep.stragglers().empty());
  CHECK(stragglers_text(rep) == "none");
  for (const RankLateness& r : rep.ranks) CHECK(r.score < 0.1);
}

TEST_CASE("stragglers: clocks that differ by their measured offset change nothing", "[stragglers]") {
  std::vector<RankOps> ranks = run(0.01, 0);
  for (OpTiming& o : ranks[1].ops) {
    o.start_s += 1000;  // rank 1's clock runs 1000 s ahead
    o.end_s += 1000;
  }
  ranks[1].offset_s = -1000;                                    // rank 0's clock = rank 1's - 1000
  const StragglerReport aligned = attribute_stragglers(ranks);  // stragglers() points into it
  const auto s = aligned.stragglers();
  REQUIRE(s.size() == 1);
  CHECK(s[0]->rank == 3);
  CHECK(s[0]->cause == "compute");
  ranks[1].offset_s = 0;  // unaligned, rank 1 would look 1000 s late
  const StragglerReport unaligned = attribute_stragglers(ranks);
  REQUIRE_FALSE(unaligned.stragglers().empty());
  CHECK(unaligned.stragglers()[0]->rank == 1);
}
