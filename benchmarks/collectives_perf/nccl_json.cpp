#include "benchmarks/collectives_perf/nccl_json.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>

#include "core/report/errors.h"
#include "core/report/files.h"

namespace dtbench::collperf {

namespace {

// nccl-tests' writer, one value at a time: a comma before every member but the first of its
// container, keys and strings escaped as its sanitizeJson does (" \ / TAB LF; the string ends
// at the first other control or non-ASCII byte).
class Writer {
 public:
  void open(char c) {
    value();
    out_ += c;
    first_.push_back(true);
  }
  void close(char c) {
    out_ += c;
    first_.pop_back();
  }
  void key(const std::string& k) {
    value();
    quoted(k);
    out_ += ':';
    after_key_ = true;
  }
  void str(const std::string& s) {
    value();
    quoted(s);
  }
  void boolean(bool b) { str(b ? "true" : "false"); }
  void integer(int64_t v) {
    value();
    out_ += std::to_string(v);
  }
  void number(double v) {
    value();
    out_ += std::isnan(v) ? "\"nan\"" : fmt::format("{:.6f}", v);
  }
  void null() {
    value();
    out_ += "null";
  }
  // "key":value members.
  void number(const char* k, double v) {
    key(k);
    number(v);
  }
  void integer(const char* k, int64_t v) {
    key(k);
    integer(v);
  }
  void str(const char* k, const std::string& v) {
    key(k);
    str(v);
  }
  const std::string& text() const { return out_; }

 private:
  void value() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty() && !first_.back()) out_ += ',';
    if (!first_.empty()) first_.back() = false;
  }
  void quoted(const std::string& s) {
    out_ += '"';
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\' || c == '/') {
        out_ += '\\';
        out_ += ch;
      } else if (c == '\t') {
        out_ += "\\t";
      } else if (c == '\n') {
        out_ += "\\n";
      } else if (c >= 0x7f || c <= 0x1f) {
        break;
      } else {
        out_ += ch;
      }
    }
    out_ += '"';
  }
  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

void placement(Writer& w, const char* name, const Placement& p, bool checked) {
  w.key(name);
  w.open('{');
  w.number("time", p.time_us);
  w.number("alg_bw", p.algbw);
  w.number("bus_bw", p.busbw);
  w.key("nwrong");
  if (checked)
    w.number(static_cast<double>(p.wrong));
  else
    w.null();
  w.close('}');
}

// -I's object: the summary of times_us[K:], every iteration's time per op as the slowest rank
// took it (nccl-tests' max over process rows), and each process's row when there are several.
void per_iter(Writer& w, const char* name, const Placement& p, int skip) {
  const size_t iters = p.iter_us.empty() ? 0 : p.iter_us[0].size();
  std::vector<double> slowest(iters, 0.0);
  for (const auto& rank : p.iter_us)
    for (size_t i = 0; i < iters && i < rank.size(); ++i) slowest[i] = std::max(slowest[i], rank[i]);
  const IterStats s = nccl_iter_stats(std::vector<double>(slowest.begin() + skip, slowest.end()));
  w.key(name);
  w.open('{');
  w.key("skipped_iterations");
  w.integer(skip);
  const std::pair<const char*, double> figures[] = {{"min_us", s.min},     {"max_us", s.max},   {"avg_us", s.avg},
                                                    {"p50_us", s.p50},     {"p95_us", s.p95},   {"p99_us", s.p99},
                                                    {"stdev_us", s.stdev}, {"cv_pct", s.cv_pct}};
  for (const auto& [key, value] : figures) {
    w.key(key);
    w.number(value);
  }
  w.key("times_us");
  w.open('[');
  for (double x : slowest) w.number(x);
  w.close(']');
  if (p.iter_us.size() > 1) {
    w.key("per_process_max_times_us");
    w.open('[');
    for (const auto& rank : p.iter_us) {
      w.open('[');
      for (double x : rank) w.number(x);
      w.close(']');
    }
    w.close(']');
  }
  w.close('}');
}

}  // namespace

IterStats nccl_iter_stats(std::vector<double> v) {
  IterStats s;
  const auto n = static_cast<int64_t>(v.size());
  if (n == 0) return s;
  std::sort(v.begin(), v.end());
  auto nearest_rank = [n](int64_t pct) { return std::min(n - 1, (n * pct + 99) / 100 - 1); };
  s.min = v.front();
  s.max = v.back();
  s.p50 = v[static_cast<size_t>(n / 2)];
  s.p95 = v[static_cast<size_t>(nearest_rank(95))];
  s.p99 = v[static_cast<size_t>(nearest_rank(99))];
  double sum = 0;
  for (double x : v) sum += x;
  s.avg = sum / static_cast<double>(n);
  double var = 0;
  for (double x : v) var += (x - s.avg) * (x - s.avg);
  s.stdev = std::sqrt(var / static_cast<double>(n));
  s.cv_pct = s.avg > 0 ? s.stdev / s.avg * 100.0 : 0.0;
  return s;
}

std::string nccl_tests_json(const NcclJsonRun& run, const BenchArgs& a, const EngineResult& res) {
  Writer w;
  w.open('{');
  w.integer("version", 3);
  w.str("start_time", run.start_time);
  w.key("args");
  w.open('[');
  for (const std::string& s : run.args) w.str(s);
  w.close(']');
  w.key("env");
  w.open('[');
  for (const std::string& s : run.env) w.str(s);
  w.close(']');
  w.integer("nccl_version", run.nccl_version);

  w.key("config");
  w.open('{');
  const std::pair<const char*, int64_t> sizes[] = {
      {"nthreads", 1}, {"ngpus", 1}, {"minimum_bytes", a.min_bytes}, {"maximum_bytes", a.max_bytes}};
  for (const auto& [key, value] : sizes) w.integer(key, value);
  w.integer(a.step_factor > 1 ? "step_factor" : "step_bytes", a.step_factor > 1 ? a.step_factor : a.step_bytes);
  const std::pair<const char*, int64_t> counts[] = {{"warmup_iters", a.warmup},
                                                    {"iterations", a.iters},
                                                    {"aggregated_iterations", a.agg},
                                                    {"validation", a.check},
                                                    {"graph", 0}};
  for (const auto& [key, value] : counts) w.integer(key, value);
  w.key("blocking_collectives");
  w.boolean(false);
  w.key("per_iter_timing");
  w.boolean(a.iteration_times);
  w.integer("per_iter_skip", a.iter_skip);
  w.key("parallel_init");
  w.boolean(false);
  w.key("devices");
  w.open('[');
  for (const NcclJsonDevice& d : run.devices) {
    w.open('{');
    w.integer("rank", d.rank);
    w.integer("group", 0);
    w.integer("pid", d.pid);
    w.str("hostname", d.hostname);
    w.integer("device", d.device);
    w.str("device_hex", d.device_hex);
    w.str("device_info", d.device_info);
    w.close('}');
  }
  w.close(']');
  w.close('}');

  w.key("results");
  w.open('[');
  int wrong_placements = 0;
  double bw_sum = 0;
  int bw_n = 0;
  for (const Row& r : res.table) {
    w.open('{');
    w.integer("size", r.bytes);
    w.integer("count", r.count);
    w.str("type", r.type);
    w.str("redop", r.redop);
    w.str("root", fmt::format("{:6d}", r.root));
    placement(w, "out_of_place", r.out_of_place, a.check != 0);
    if (a.iteration_times) per_iter(w, "out_of_place_per_iter", r.out_of_place, a.iter_skip);
    // A collective without an in-place form (send_recv) has "in_place": null, the form
    // nccl-tests' writer has for a placement that was not run.
    if (r.in_place) {
      placement(w, "in_place", *r.in_place, a.check != 0);
      if (a.iteration_times) per_iter(w, "in_place_per_iter", *r.in_place, a.iter_skip);
    } else {
      w.key("in_place");
      w.null();
    }
    w.integer("actual_iterations", a.iters);
    w.str("experiment_name", "");
    w.close('}');
    for (const Placement* p : {&r.out_of_place, r.in_place ? &*r.in_place : nullptr}) {
      if (!p) continue;
      wrong_placements += p->wrong > 0;
      bw_sum += p->busbw;
      ++bw_n;
    }
  }
  w.close(']');

  w.key("out_of_bounds");
  w.open('{');
  w.integer("count", wrong_placements);
  w.key("okay");
  w.boolean(wrong_placements == 0);
  w.close('}');
  const double avg = bw_n ? bw_sum / bw_n : 0.0;
  w.key("average_bus_bandwidth");
  w.open('{');
  w.number("bandwidth", avg);
  w.key("okay");
  if (run.min_bw < 0)
    w.str("unchecked");
  else
    w.boolean(avg >= run.min_bw * 0.9);
  w.close('}');
  w.key("errors");
  w.open('[');
  w.str("");
  w.close(']');
  w.str("end_time", run.end_time);
  w.close('}');
  return w.text();
}

std::string write_nccl_json(const std::string& path, const std::string& text) {
  // The whole text goes to a temporary file first; link() then gives it its name only if that
  // name is free: a reader never sees a part, and nothing is overwritten.
  const std::string dir = parent_dir(path);
  if (const std::string why = make_dirs(dir); !why.empty()) throw UsageError(fmt::format("-J {}: {}", path, why));
  std::string tmp = dir + "/.nccl_json.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    throw RuntimeFailure(fmt::format("-J {}: cannot create a file in {}: {}", path, dir, std::strerror(errno)));
  const std::string why = write_fully(fd, text.data(), text.size());
  const bool synced = why.empty() && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    ::unlink(tmp.c_str());
    throw RuntimeFailure(fmt::format("-J {}: writing failed: {}", path, why.empty() ? std::strerror(errno) : why));
  }
  std::string target = path;
  for (int k = 0; ::link(tmp.c_str(), target.c_str()) != 0; ++k) {
    if (errno != EEXIST || k >= 1000) {
      const int err = errno;
      ::unlink(tmp.c_str());
      throw RuntimeFailure(fmt::format("-J {}: cannot create {}: {}", path, target, std::strerror(err)));
    }
    target = fmt::format("{}.{}", path, k);
  }
  ::unlink(tmp.c_str());
  ::chmod(target.c_str(), 0644);
  fsync_dir(dir);
  return target;
}

std::string nccl_json_now() {
  const std::time_t t = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&t, &local);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

}  // namespace dtbench::collperf
