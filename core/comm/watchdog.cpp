#include "core/comm/watchdog.h"

#include "core/comm/op_timing.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/comm/desync.h"
#include "core/report/clock.h"
#include "core/report/files.h"
#include "core/report/log.h"
#include "core/report/span.h"
#include "core/report/system_info.h"
#include "core/report/timeline.h"

namespace dtbench {

namespace {
constexpr std::size_t kHistory = 64;
constexpr auto kPoll = std::chrono::milliseconds(50);
constexpr double kReportWaitS = 2;  // the printer, for the peers' traces, before the report
// The others, for the printer's report before their abort (under mpirun the first abort ends
// every rank): longer than the printer's own wait.
constexpr double kPrinterWaitS = kReportWaitS + 1;
constexpr double kRequestWindowS = 5;    // SIGUSR1: traces this much older than ours are of this request
constexpr double kFailureWindowS = 120;  // a failure: traces written this long before ours belong to it
}  // namespace

struct Watchdog::Impl {
  struct Entry {
    OpTrace op;
    std::shared_ptr<Work> work;
    double issued = 0, started = -1, done = -1;
    bool failed = false;
    int issuer_tid = 0;  // the timeline thread that issued it
  };
  std::mutex mu;
  double timeout_s = 600;
  std::string run_dir = ".";
  int rank = 0;
  std::vector<std::string> hosts;  // every rank's, once the world is up
  const double started_unix = unix_now_s();
  std::list<Entry> in_flight;
  std::deque<Entry> history;  // completed, newest last
  std::map<int, std::function<void(int)>> abort_hooks;
  std::map<int, std::function<void(const std::string&, int)>> exit_hooks;
  std::map<int, std::function<std::optional<std::string>()>> health;
  int next_id = 0;
  std::atomic<bool> dying{false};

  // The registries of hooks and checks: add returns an id for remove; call_each copies them
  // out under the lock and calls them without it. remove waits until calls in progress on
  // other threads are over, so that what a hook or check uses (NCCL's communicator) may be
  // freed once remove returns; a hook that removes itself does not wait for itself.
  std::condition_variable calls_done;
  std::multiset<std::thread::id> calling;  // threads inside call_each
  template <typename Map>
  int add(Map& m, typename Map::mapped_type f) {
    std::lock_guard<std::mutex> lock(mu);
    m[++next_id] = std::move(f);
    return next_id;
  }
  template <typename Map>
  void remove(Map& m, int id) {
    std::unique_lock<std::mutex> lock(mu);
    m.erase(id);
    const std::thread::id self = std::this_thread::get_id();
    // Bounded: a check that hangs is the watchdog's problem (its own thread is stuck in it),
    // and must not hang the shutdown that called remove as well.
    if (!calls_done.wait_for(lock, std::chrono::seconds(30), [&] {
          return std::all_of(calling.begin(), calling.end(), [&](auto t) { return t == self; });
        }))
      log_line("watchdog: a hook or check still runs 30 s after its removal; going on");
  }
  template <typename Map, typename Fn>
  void call_each(const Map& m, const Fn& call, bool newest_first = false) {
    std::vector<typename Map::mapped_type> fs;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [id, f] : m) fs.push_back(f);
      calling.insert(std::this_thread::get_id());
    }
    struct Done {
      Impl* impl;
      ~Done() {
        {
          std::lock_guard<std::mutex> lock(impl->mu);
          const auto it = impl->calling.find(std::this_thread::get_id());
          if (it != impl->calling.end()) impl->calling.erase(it);
        }
        impl->calls_done.notify_all();
      }
    } done{this};
    if (newest_first) std::reverse(fs.begin(), fs.end());
    for (const auto& f : fs) call(f);
  }
  std::thread thread;

  uint64_t next_flow = 0;  // timeline arrows from an op's enqueue to its run

  // Moves a completed op from in_flight to the history (and, when tracing, to the timeline);
  // with mu held.
  std::list<Entry>::iterator retire(std::list<Entry>::iterator it, double now) {
    it->done = now;
    it->failed = it->work->has_failed();
    const auto run = it->work->host_run();
    if (run && !it->op.group.empty() && it->op.step >= 0 && !it->failed)
      OpTimingLog::instance().add(
          {fmt::format("{}@{}#{}", it->op.comm, it->op.group, it->op.seq), it->op.step, run->start_s, run->end_s});
    if (timeline::on()) {
      if (run) {
        const OpTrace& op = it->op;
        const std::string name = fmt::format("{} #{}", op.what.substr(0, op.what.find(' ')), op.seq);
        const bool comm = !op.group.empty();
        nlohmann::json args = {{"comm", op.comm},   {"group", op.group},     {"seq", op.seq},       {"op", op.what},
                               {"bytes", op.bytes}, {"context", op.context}, {"failed", it->failed}};
        timeline::slice(name, comm ? "comm" : "control", run->tid, run->start_s, run->end_s, args);
        timeline::instant_with_flow(name + " enqueued", comm ? "comm" : "control", it->issued, next_flow++, run->tid,
                                    run->start_s, {{"comm", op.comm}, {"seq", op.seq}}, it->issuer_tid);
      }
    }
    it->work.reset();
    history.push_back(std::move(*it));
    if (history.size() > kHistory) history.pop_front();
    return in_flight.erase(it);
  }

  void poll_loop(Watchdog* self) {
    for (;;) {
      std::this_thread::sleep_for(kPoll);
      std::string expired;
      {
        std::lock_guard<std::mutex> lock(mu);
        const double now = now_s();
        for (auto it = in_flight.begin(); it != in_flight.end();) {
          if (it->work->is_completed()) {
            it = retire(it, now);
          } else {
            if (it->started < 0 && it->work->is_started()) it->started = now;
            if (expired.empty() && now - it->issued > timeout_s)
              expired =
                  fmt::format("communicator '{}' op #{} {} waited {:.1f} s, beyond --comm-timeout {:g} s; peers: {}",
                              it->op.comm, it->op.seq, it->op.what, now - it->issued, timeout_s, it->op.peers);
            ++it;
          }
        }
      }
      if (!expired.empty())
        self->fatal(expired + "; a peer is stopped, dead or slow (see the desync report and its log)", 3);
      call_each(health, [&](const auto& check) {
        if (auto err = check()) self->fatal(*err, 3);
      });
    }
  }

  std::string trace_path() const { return fmt::format("{}/comm_trace.rank{}.json", run_dir, rank); }
  std::string trace_path(int r) const { return fmt::format("{}/comm_trace.rank{}.json", run_dir, r); }

  // This rank's last ops, completed and in flight, oldest first, as the desync report reads
  // them.
  RankTrace trace(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu);
    RankTrace t;
    t.rank = rank;
    t.world_size = static_cast<int>(hosts.size());
    t.host = short_hostname();
    t.reason = reason;
    t.written_unix = unix_now_s();
    t.hosts = hosts;
    const double now = now_s();
    // The oldest ops in flight (what the rank waits in, and what is queued behind it; a
    // benchmark may queue thousands) and the newest done ones, kHistory in all.
    std::vector<const Entry*> flying, done_ops;
    for (auto& e : in_flight) flying.push_back(&e);
    for (auto& e : history) done_ops.push_back(&e);
    const auto by_issue = [](const Entry* a, const Entry* b) { return a->issued < b->issued; };
    std::sort(flying.begin(), flying.end(), by_issue);
    const std::size_t n_flying = std::min(flying.size(), std::max(kHistory - done_ops.size(), kHistory / 2));
    flying.resize(n_flying);
    const std::size_t n_done = std::min(done_ops.size(), kHistory - n_flying);
    std::vector<const Entry*> all(done_ops.end() - static_cast<std::ptrdiff_t>(n_done), done_ops.end());
    all.insert(all.end(), flying.begin(), flying.end());
    std::sort(all.begin(), all.end(), by_issue);
    for (const Entry* entry : all) {
      const Entry& e = *entry;
      // An op that ended with an error (the store's own timeout, a peer gone) never finished:
      // for the report it is still what this rank waits in.
      const bool failed = e.failed || (e.work && e.work->has_failed());
      const bool done = !failed && (e.done >= 0 || (e.work && e.work->is_completed()));
      const bool started = failed || done || e.started >= 0 || (e.work && e.work->is_started());
      t.ops.push_back(TracedOp{e.op.comm, e.op.group, e.op.seq, e.op.what, e.op.bytes, e.op.context,
                               failed    ? "failed"
                               : done    ? "done"
                               : started ? "started"
                                         : "enqueued",
                               now - e.issued});
    }
    return t;
  }

  // Writes the trace to the run folder; best effort when dying. Returns its time stamp.
  double write_trace(const std::string& reason) {
    const RankTrace t = trace(reason);
    try {
      make_dirs(run_dir);
      write_file_atomic(trace_path(), trace_to_json(t).dump(1) + "\n");
    } catch (const std::exception& e) {
      log_line(fmt::format("watchdog: cannot write the comm trace {}: {}", trace_path(), e.what()));
    }
    return t.written_unix;
  }

  // The desync report, from the traces the ranks write to the run folder (never through a
  // collective: a peer may be stopped). Waits up to `wait_s` for every rank's trace written
  // since `fresh_unix`; the lowest rank that wrote one prints it, so it is printed once.
  void report_desync(double fresh_unix, double wait_s) {
    const int n = static_cast<int>(hosts.size());
    if (n < 2) return;
    std::map<int, RankTrace> traces;
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
    for (;;) {
      for (int r = 0; r < n; ++r) {
        if (traces.count(r)) continue;
        try {
          std::ifstream in(trace_path(r));
          if (!in) continue;
          RankTrace t = trace_from_json(nlohmann::json::parse(in), trace_path(r));
          if (t.written_unix >= fresh_unix && t.rank == r) traces.emplace(r, std::move(t));
        } catch (const std::exception&) {  // not there yet, or an older run's
        }
      }
      // Done when every trace is there, or (not the printer) once a lower rank's is.
      if (static_cast<int>(traces.size()) == n || (!traces.empty() && traces.begin()->first < rank) ||
          std::chrono::steady_clock::now() >= until)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const std::string report_path = run_dir + "/desync_report.txt";
    if (traces.empty() || traces.begin()->first != rank) {
      // A lower rank prints it. Wait (bounded) until it has: this rank's abort (MPI_Abort)
      // would otherwise take the printer down with it.
      const auto printed_by = std::chrono::steady_clock::now() + std::chrono::duration<double>(kPrinterWaitS);
      while (std::chrono::steady_clock::now() < printed_by) {
        struct stat st {};
        if (::stat(report_path.c_str(), &st) == 0 &&
            static_cast<double>(st.st_mtim.tv_sec) + 1e-9 * static_cast<double>(st.st_mtim.tv_nsec) >= fresh_unix)
          return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      return;
    }
    const auto lines = desync_report(traces, n);
    std::string text;
    for (const auto& l : lines) {
      log_line("desync report: " + l);
      text += l + "\n";
    }
    try {
      write_file_atomic(report_path, text);
    } catch (const std::exception& e) {
      log_line(fmt::format("watchdog: cannot write {}: {}", report_path, e.what()));
    }
  }
};

Watchdog::Watchdog() : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([this] { impl_->poll_loop(this); });
  impl_->thread.detach();  // lives as long as the process; never joined
}

Watchdog& Watchdog::instance() {
  static Watchdog* w = new Watchdog();  // never destroyed: threads may still use it at exit
  return *w;
}

void Watchdog::install_signal_handling() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) return;
      auto& w = Watchdog::instance();
      if (sig == SIGUSR1) {
        w.dump_on_request();
        continue;
      }
      std::string flying = w.in_flight_summary();
      w.fatal(fmt::format("received {}; {}", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                          flying.empty() ? std::string("no communication op in flight") : "op in flight: " + flying),
              3);
    }
  }).detach();
}

void Watchdog::dump_on_request() {
  if (!world_up()) {
    log_line("SIGUSR1 before the world is up: no communicator yet, so no comm trace to write; the run goes on");
    return;
  }
  // Every rank gets the signal within a moment (from the launcher, mpirun or scancel): the
  // traces written since shortly before this one belong to this request.
  const double written = impl_->write_trace("SIGUSR1");
  log_line(fmt::format("SIGUSR1: comm trace written to {}; the run goes on", impl_->trace_path()));
  impl_->report_desync(written - kRequestWindowS, kReportWaitS);
}

void Watchdog::flush_timeline() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const double now = now_s();
  for (auto it = impl_->in_flight.begin(); it != impl_->in_flight.end();)
    it = it->work->is_completed() ? impl_->retire(it, now) : std::next(it);
}

bool Watchdog::world_up() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return !impl_->hosts.empty();
}

void Watchdog::set_hosts(std::vector<std::string> hosts) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->hosts = std::move(hosts);
}

void Watchdog::configure(double timeout_s, const std::string& run_dir, int rank) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->timeout_s = timeout_s;
  impl_->run_dir = run_dir.empty() ? "." : run_dir;
  impl_->rank = rank;
}

double Watchdog::timeout_s() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->timeout_s;
}

void Watchdog::track(OpTrace op, std::shared_ptr<Work> work, double issued_s) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::Entry e{std::move(op), std::move(work), issued_s < 0 ? now_s() : issued_s};
  e.issuer_tid = timeline::thread_index();
  impl_->in_flight.push_back(std::move(e));
}

Watchdog::Call::Call(Watchdog& w, OpTrace op) : work_(std::make_shared<CpuWork>()) {
  if (op.context.empty()) op.context = span_context();
  w.track(std::move(op), work_);
  work_->start();  // after track(): its issue time, then its start
}
Watchdog::Call::~Call() { work_->finish(); }

int Watchdog::add_abort_hook(std::function<void(int)> hook) { return impl_->add(impl_->abort_hooks, std::move(hook)); }
void Watchdog::remove_abort_hook(int id) { impl_->remove(impl_->abort_hooks, id); }
bool Watchdog::has_abort_hooks() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return !impl_->abort_hooks.empty();
}
int Watchdog::add_health_check(std::function<std::optional<std::string>()> check) {
  return impl_->add(impl_->health, std::move(check));
}
void Watchdog::remove_health_check(int id) { impl_->remove(impl_->health, id); }

std::string Watchdog::in_flight_summary() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (auto& e : impl_->in_flight) {
    if (e.work->is_completed()) continue;
    return fmt::format("communicator '{}' op #{} {} (issued {:.1f} s ago; peers: {})", e.op.comm, e.op.seq, e.op.what,
                       now_s() - e.issued, e.op.peers);
  }
  return "";
}

int Watchdog::add_exit_hook(std::function<void(const std::string&, int)> hook) {
  return impl_->add(impl_->exit_hooks, std::move(hook));
}
void Watchdog::remove_exit_hook(int id) { impl_->remove(impl_->exit_hooks, id); }

void Watchdog::claim_failure() {
  if (impl_->dying.exchange(true)) {
    // Another thread is already taking the process down. This one waits for that, inside no
    // hook as far as remove() is concerned (the dying thread may remove one on its way out).
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->calling.erase(std::this_thread::get_id());
    }
    impl_->calls_done.notify_all();
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

void Watchdog::run_exit_hooks(const std::string& cause, int code) {
  impl_->call_each(impl_->exit_hooks, [&](const auto& hook) { hook(cause, code); });
}

void Watchdog::last_words(const std::string& cause, int code) {
  claim_failure();
  run_exit_hooks(cause, code);
}

void Watchdog::fatal(const std::string& message, int code, const std::string& cause) {
  claim_failure();
  // A hook that hangs (a record on a dead file system, an abort that blocks) must not keep
  // us alive: 5 s for the hooks, the trace and the report's own bounded waits, and 5 s for
  // the abort hooks once the report is done.
  const auto exit_after = [code](double s) {
    std::thread([code, s] {
      std::this_thread::sleep_for(std::chrono::duration<double>(s));
      ::_exit(code);
    }).detach();
  };
  exit_after(5 + kReportWaitS + kPrinterWaitS);
  run_exit_hooks(cause.empty() ? message : cause, code);
  impl_->write_trace(cause.empty() ? message : cause);
  std::fflush(stdout);  // the step lines printed so far; _exit below flushes nothing
  log_line(fmt::format("{}; trace: {}; exiting {}", message, impl_->trace_path(), code));
  // Peers that wait in the same op time out within a poll of each other, and the launcher
  // stops the others: their traces of this failure are written from now on, or were written
  // shortly before (a peer that timed out first).
  if (code == 3) impl_->report_desync(std::max(impl_->started_unix, unix_now_s() - kFailureWindowS), kReportWaitS);
  exit_after(5);
  impl_->call_each(
      impl_->abort_hooks, [&](const auto& hook) { hook(code); }, /*newest_first=*/true);
  ::_exit(code);
}

}  // namespace dtbench
