#include "core/comm/desync.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>

#include "core/comm/communicator.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {
constexpr double kSnapshotSlackS = 0.5;
}  // namespace

nlohmann::json trace_to_json(const RankTrace& t) {
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& o : t.ops)
    ops.push_back({{"comm", o.comm},
                   {"group", o.group},
                   {"seq", o.seq},
                   {"op", o.op},
                   {"bytes", o.bytes},
                   {"context", o.context},
                   {"state", o.state},
                   {"age_s", o.age_s}});
  return {{"schema", kCommTraceSchema}, {"rank", t.rank},
          {"world_size", t.world_size}, {"host", t.host},
          {"reason", t.reason},         {"written_unix", t.written_unix},
          {"hosts", t.hosts},           {"ops", std::move(ops)}};
}

RankTrace trace_from_json(const nlohmann::json& j, const std::string& where) {
  try {
    DT_USAGE(j.value("schema", "") == kCommTraceSchema, "{}: not a {} file (schema '{}')", where, kCommTraceSchema,
             j.value("schema", ""));
    RankTrace t;
    t.rank = j.at("rank").get<int>();
    t.world_size = j.at("world_size").get<int>();
    t.host = j.at("host").get<std::string>();
    t.reason = j.at("reason").get<std::string>();
    t.written_unix = j.at("written_unix").get<double>();
    t.hosts = j.at("hosts").get<std::vector<std::string>>();
    for (const auto& o : j.at("ops")) {
      TracedOp op;
      op.comm = o.at("comm").get<std::string>();
      op.group = o.at("group").get<std::string>();
      op.seq = o.at("seq").get<uint64_t>();
      op.op = o.at("op").get<std::string>();
      op.bytes = o.at("bytes").get<int64_t>();
      op.context = o.at("context").get<std::string>();
      op.state = o.at("state").get<std::string>();
      op.age_s = o.at("age_s").get<double>();
      t.ops.push_back(std::move(op));
    }
    return t;
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(fmt::format("{}: not a comm trace ({})", where, e.what()));
  }
}

std::vector<int> parse_rank_ranges(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    int lo = 0, hi = 0;
    char dash = 0;
    std::stringstream p(part);
    if (!(p >> lo)) return {};
    hi = lo;
    if (p >> dash && (dash != '-' || !(p >> hi))) return {};
    for (int r = lo; r <= hi; ++r) out.push_back(r);
  }
  return out;
}

namespace {

// An op's signature, which every rank must agree on: its text without where the buffers are.
std::string signature(const TracedOp& o) {
  for (const char* place : {" in-place", " out-of-place"}) {
    const std::string p = place;
    if (o.op.size() > p.size() && o.op.compare(o.op.size() - p.size(), p.size(), p) == 0)
      return o.op.substr(0, o.op.size() - p.size());
  }
  return o.op;
}

std::string context_of(const TracedOp& o) { return o.context.empty() ? "" : fmt::format(" ({})", o.context); }

std::string describe(const TracedOp& o) {
  return fmt::format("'{}' #{} {}{}", o.comm, o.seq, signature(o), context_of(o));
}

class Report {
 public:
  Report(const std::map<int, RankTrace>& traces, int world_size) : traces_(traces), world_size_(world_size) {
    for (const auto& [r, t] : traces)
      if (hosts_.empty() && static_cast<int>(t.hosts.size()) == world_size) hosts_ = t.hosts;
  }

  std::string who(int r) const {
    if (r < static_cast<int>(hosts_.size())) return fmt::format("rank {} ({})", r, hosts_[r]);
    const auto it = traces_.find(r);
    return it != traces_.end() ? fmt::format("rank {} ({})", r, it->second.host) : fmt::format("rank {}", r);
  }

  // The oldest op `r` has not finished, if any.
  std::optional<TracedOp> waiting_in(int r) const {
    const auto it = traces_.find(r);
    if (it == traces_.end()) return std::nullopt;
    std::optional<TracedOp> oldest;
    for (const auto& o : it->second.ops)
      if (o.state != "done" && (!oldest || o.age_s > oldest->age_s)) oldest = o;
    return oldest;
  }

  std::vector<std::string> run() {
    std::set<std::pair<std::string, std::string>> comms;  // (name, group) of every communicator traced
    for (const auto& [r, t] : traces_)
      for (const auto& o : t.ops)
        if (!o.group.empty()) comms.insert({o.comm, o.group});
    for (const auto& [name, group] : comms) communicator(name, group);
    std::vector<int> silent;
    for (int r = 0; r < world_size_; ++r)
      if (!traces_.count(r) && !named_.count(r)) silent.push_back(r);
    if (!silent.empty())
      lines_.push_back(fmt::format("rank{} {} left no trace (stopped, dead or unreachable)",
                                   silent.size() > 1 ? "s" : "", rank_ranges(silent)));
    if (lines_.empty())
      lines_.push_back(fmt::format("no rank is behind and no op disagrees in the traces of ranks {}", traced()));
    return lines_;
  }

 private:
  std::string traced() const {
    std::vector<int> rs;
    for (const auto& [r, t] : traces_) rs.push_back(r);
    return rank_ranges(rs);
  }

  void communicator(const std::string& name, const std::string& group) {
    const std::vector<int> members = parse_rank_ranges(group);
    std::map<int, std::map<uint64_t, TracedOp>> ops;  // member -> seq -> op
    for (int m : members) {
      const auto it = traces_.find(m);
      if (it == traces_.end()) continue;
      auto& mine = ops[m];
      for (const auto& o : it->second.ops)
        if (o.comm == name && o.group == group) mine[o.seq] = o;
    }
    disagreement(name, members, ops);
    // The oldest op any member waits in, and who is not in it.
    std::optional<TracedOp> ref;
    for (const auto& [m, mine] : ops)
      for (const auto& [seq, o] : mine)
        if (o.state != "done" && (!ref || seq < ref->seq)) ref = o;
    if (!ref) return;
    std::vector<int> waiting, behind, missing;
    double since = -1;
    for (int m : members) {
      if (!ops.count(m)) {
        missing.push_back(m);
        continue;
      }
      const auto& mine = ops.at(m);
      const auto at = mine.find(ref->seq);
      if (at != mine.end()) {
        if (at->second.state != "done") {
          waiting.push_back(m);
          since = since < 0 ? at->second.age_s : std::min(since, at->second.age_s);
        }
      } else if (mine.empty() || mine.rbegin()->first < ref->seq) {
        behind.push_back(m);
      }
    }
    // Traces written on a signal to a running job are snapshots taken moments apart: a rank
    // that entered the op just before its snapshot, while the others took theirs earlier, is
    // no hang. Only a wait longer than the snapshots' spread (and half a second) is one.
    double first = 1e300, last = -1e300;
    for (int m : members)
      if (const auto it = traces_.find(m); it != traces_.end()) {
        first = std::min(first, it->second.written_unix);
        last = std::max(last, it->second.written_unix);
      }
    const bool moments_apart = since >= 0 && since <= last - first + kSnapshotSlackS;
    if (moments_apart) behind.clear();
    const std::string in_it = fmt::format("rank{} {} wait{} in it since {:.1f} s", waiting.size() > 1 ? "s" : "",
                                          rank_ranges(waiting), waiting.size() > 1 ? "" : "s", since);
    for (int b : behind) {
      std::string line = fmt::format("{} never entered {}; {}", who(b), describe(*ref), in_it);
      if (auto w = waiting_in(b))
        line += fmt::format("; {} waits in {} since {:.1f} s", who(b), describe(*w), w->age_s);
      else if (!ops.at(b).empty())
        line += fmt::format("; its last op there was #{} {}", ops.at(b).rbegin()->first,
                            signature(ops.at(b).rbegin()->second));
      lines_.push_back(std::move(line));
      named_.insert(b);
    }
    for (int m : missing) {
      lines_.push_back(fmt::format("{} left no trace (stopped, dead or unreachable) and never finished {}; {}", who(m),
                                   describe(*ref), in_it));
      named_.insert(m);
    }
    if (!moments_apart && behind.empty() && missing.empty() && waiting.size() == members.size())
      lines_.push_back(
          fmt::format("ranks {} all entered {} and wait in it since {:.1f} s: nobody is behind there "
                      "(a slow or broken link, or a rank stuck on a device)",
                      rank_ranges(waiting), describe(*ref), since));
  }

  // The first sequence number where members traced different ops (or the same op from
  // different places in the code): the odd ones out against the most common.
  void disagreement(const std::string& name, const std::vector<int>& members,
                    const std::map<int, std::map<uint64_t, TracedOp>>& ops) {
    std::set<uint64_t> seqs;
    for (const auto& [m, mine] : ops)
      for (const auto& [seq, o] : mine) seqs.insert(seq);
    for (uint64_t seq : seqs) {
      std::map<std::string, std::vector<int>> by_what;
      std::map<std::string, const TracedOp*> example;
      for (int m : members) {
        const auto it = ops.find(m);
        if (it == ops.end()) continue;
        const auto at = it->second.find(seq);
        if (at == it->second.end()) continue;
        const std::string key =
            fmt::format("{} ({} B){}", signature(at->second), at->second.bytes, context_of(at->second));
        by_what[key].push_back(m);
        example[key] = &at->second;
      }
      if (by_what.size() < 2) continue;
      const auto most = std::max_element(by_what.begin(), by_what.end(), [](const auto& a, const auto& b) {
        return a.second.size() < b.second.size();
      });
      std::string line = fmt::format("ranks disagree on '{}' #{}:", name, seq);
      for (const auto& [key, rs] : by_what) {
        if (&key == &most->first) continue;
        line += fmt::format(" rank{} {} entered {};", rs.size() > 1 ? "s" : "", rank_ranges(rs), key);
        named_.insert(rs.begin(), rs.end());
      }
      line += fmt::format(" rank{} {} entered {}", most->second.size() > 1 ? "s" : "", rank_ranges(most->second),
                          most->first);
      lines_.push_back(std::move(line));
      return;  // the first one explains the rest
    }
  }

  const std::map<int, RankTrace>& traces_;
  int world_size_;
  std::vector<std::string> hosts_;
  std::vector<std::string> lines_;
  std::set<int> named_;
};

}  // namespace

std::vector<std::string> desync_report(const std::map<int, RankTrace>& traces, int world_size) {
  return Report(traces, world_size).run();
}

}  // namespace dtbench
