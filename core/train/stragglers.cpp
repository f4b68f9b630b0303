#include "core/train/stragglers.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "core/comm/watchdog.h"
#include "core/report/stats.h"
#include "core/report/system_info.h"

namespace dtbench {

namespace {

struct Entry {
  int rank = 0;
  int64_t step = 0;
  double start = 0;  // on rank 0's clock
};

double median(std::vector<double> v) { return v.empty() ? 0 : percentile(std::move(v), 0.5); }

// Per step, each rank's value less the median rank's (noise makes every rank late, or slow,
// now and then; a straggler is so beyond that).
std::map<int64_t, std::vector<double>> beyond_median(const std::vector<RankLateness>& ranks,
                                                     std::map<int64_t, double> RankLateness::*field) {
  std::map<int64_t, std::vector<double>> values, out;
  for (const RankLateness& r : ranks)
    for (const auto& [step, t] : r.step_s) {
      const auto& m = r.*field;
      values[step].push_back(m.count(step) ? m.at(step) : 0.0);
    }
  for (auto& [step, v] : values) {
    const double typical = median(v);
    for (double& x : v) x -= typical;
    out[step] = std::move(v);
  }
  return out;
}

// The total length of the union of [start, end) intervals, sorted by start.
double union_length(std::vector<std::pair<double, double>> spans) {
  std::sort(spans.begin(), spans.end());
  double total = 0, from = 0, to = -1e300;
  for (const auto& [s, e] : spans) {
    if (s > to) {
      if (to > from) total += to - from;
      from = s;
      to = e;
    } else {
      to = std::max(to, e);
    }
  }
  if (to > from) total += to - from;
  return total;
}

}  // namespace

std::vector<const RankLateness*> StragglerReport::stragglers() const {
  std::vector<const RankLateness*> out;
  for (const RankLateness& r : ranks)
    if (r.score >= threshold) out.push_back(&r);
  return out;
}

StragglerReport attribute_stragglers(const std::vector<RankOps>& ranks, double threshold) {
  StragglerReport report;
  report.threshold = threshold;
  std::map<std::string, std::vector<Entry>> by_op;
  for (size_t i = 0; i < ranks.size(); ++i) {
    const RankOps& r = ranks[i];
    RankLateness& out = report.ranks.emplace_back();
    out.rank = r.rank;
    out.host = r.host;
    out.step_s = r.step_s;
    out.starved_s = r.starved_s;
    std::map<int64_t, std::vector<std::pair<double, double>>> spans;
    for (const OpTiming& o : r.ops) {
      spans[o.step].emplace_back(o.start_s, o.end_s);
      by_op[o.key].push_back({static_cast<int>(i), o.step, o.start_s + r.offset_s});
    }
    // Time inside communication (ops that overlap counted once), and the rank's own work: the
    // step less the time its threads were blocked waiting for ops (an op running beside the
    // computation, as FSDP's prefetch does, is not waited for).
    for (const auto& [step, t] : r.step_s) {
      out.in_comm_s[step] = spans.count(step) ? union_length(spans[step]) : 0.0;
      out.compute_s[step] = std::max(0.0, t - (r.blocked_s.count(step) ? r.blocked_s.at(step) : 0.0));
    }
  }
  for (const auto& [key, entries] : by_op) {
    if (entries.size() < 2) continue;
    for (size_t k = 0; k < entries.size(); ++k) {
      std::vector<double> others;
      for (size_t j = 0; j < entries.size(); ++j)
        if (j != k) others.push_back(entries[j].start);
      const double late = entries[k].start - median(others);
      if (late > 0) report.ranks[static_cast<size_t>(entries[k].rank)].late_s[entries[k].step] += late;
    }
  }
  const auto late = beyond_median(report.ranks, &RankLateness::late_s);
  const auto compute = beyond_median(report.ranks, &RankLateness::compute_s);
  const auto starved = beyond_median(report.ranks, &RankLateness::starved_s);
  for (size_t i = 0; i < report.ranks.size(); ++i) {
    RankLateness& r = report.ranks[i];
    std::vector<double> fractions, late_beyond, compute_beyond, starved_beyond;
    for (const auto& [step, t] : r.step_s) {
      const double l = std::max(0.0, late.at(step)[i]);
      fractions.push_back(t > 0 ? l / t : 0.0);
      late_beyond.push_back(l);
      compute_beyond.push_back(compute.at(step)[i]);
      starved_beyond.push_back(starved.at(step)[i]);
    }
    r.score = median(fractions);
    r.late_beyond_s = median(late_beyond);
    r.compute_beyond_s = median(compute_beyond);
    r.starved_beyond_s = median(starved_beyond);
    // Late because its own work took longer or its CPU was withheld, or because its
    // communication took longer with the CPU it had.
    const double own = std::max(r.compute_beyond_s, r.starved_beyond_s);
    if (r.late_beyond_s > 0) r.cause = own >= 0.5 * r.late_beyond_s ? "compute" : "network";
  }
  return report;
}

StragglerReport measure_stragglers(Communicator& world, const ClockOffset& clock,
                                   const std::map<int64_t, double>& step_s,
                                   const std::map<int64_t, double>& starved_s) {
  OpTimingLog::instance().set_step(-1);
  Watchdog::instance().flush_timeline();  // every completed op into the log
  // One line per step and per op: "s STEP SECONDS" / "o KEY STEP START END".
  std::string mine = fmt::format("{} {:.17g}\n", short_hostname(), clock.offset_s);
  for (const auto& [step, t] : step_s) mine += fmt::format("s {} {:.17g}\n", step, t);
  for (const auto& [step, t] : starved_s) mine += fmt::format("c {} {:.17g}\n", step, t);
  for (const auto& [step, t] : OpTimingLog::instance().take_blocked()) mine += fmt::format("b {} {:.17g}\n", step, t);
  for (const OpTiming& o : OpTimingLog::instance().take())
    mine += fmt::format("o {} {} {:.17g} {:.17g}\n", o.key, o.step, o.start_s, o.end_s);
  std::vector<RankOps> ranks;
  for (const std::string& text : world.control().all_gather(mine)) {
    RankOps& r = ranks.emplace_back();
    r.rank = static_cast<int>(ranks.size()) - 1;
    std::istringstream in(text);
    in >> r.host >> r.offset_s;
    std::string kind;
    while (in >> kind) {
      if (kind == "s" || kind == "b" || kind == "c") {
        int64_t step = 0;
        double t = 0;
        in >> step >> t;
        (kind == "s" ? r.step_s : kind == "b" ? r.blocked_s : r.starved_s)[step] = t;
      } else {
        OpTiming o;
        in >> o.key >> o.step >> o.start_s >> o.end_s;
        r.ops.push_back(std::move(o));
      }
    }
  }
  return attribute_stragglers(ranks);
}

nlohmann::json stragglers_json(const StragglerReport& r) {
  nlohmann::json out = nlohmann::json::array();
  for (const RankLateness* s : r.stragglers())
    out.push_back({{"rank", s->rank}, {"host", s->host}, {"score", s->score}, {"cause", s->cause}});
  return out;
}

std::string stragglers_text(const StragglerReport& r) {
  std::string out;
  for (const RankLateness* s : r.stragglers())
    out += fmt::format("{}rank {} ({}) {:.2f} {}", out.empty() ? "" : ", ", s->rank, s->host, s->score, s->cause);
  return out.empty() ? "none" : out;
}

}  // namespace dtbench
