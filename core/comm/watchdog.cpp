#include "core/comm/watchdog.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
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

#include "core/report/clock.h"
#include "core/report/files.h"
#include "core/report/log.h"

namespace dtbench {

namespace {
constexpr std::size_t kHistory = 64;
constexpr auto kPoll = std::chrono::milliseconds(50);
}  // namespace

struct Watchdog::Impl {
  struct Entry {
    OpTrace op;
    std::shared_ptr<Work> work;
    double issued = 0, done = -1;
  };
  std::mutex mu;
  double timeout_s = 600;
  std::string run_dir = ".";
  int rank = 0;
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

  void poll_loop(Watchdog* self) {
    for (;;) {
      std::this_thread::sleep_for(kPoll);
      std::string expired;
      {
        std::lock_guard<std::mutex> lock(mu);
        const double now = now_s();
        for (auto it = in_flight.begin(); it != in_flight.end();) {
          if (it->work->is_completed()) {
            it->done = now;
            it->work.reset();
            history.push_back(std::move(*it));
            if (history.size() > kHistory) history.pop_front();
            it = in_flight.erase(it);
          } else {
            if (expired.empty() && now - it->issued > timeout_s)
              expired =
                  fmt::format("communicator '{}' op #{} {} waited {:.1f} s, beyond --comm-timeout {:g} s; peers: {}",
                              it->op.comm, it->op.seq, it->op.what, now - it->issued, timeout_s, it->op.peers);
            ++it;
          }
        }
      }
      if (!expired.empty()) self->fatal(expired + "; a peer is stopped, dead or slow (check its log)", 3);
      call_each(health, [&](const auto& check) {
        if (auto err = check()) self->fatal(*err, 3);
      });
    }
  }

  std::string trace_path() const { return fmt::format("{}/comm_trace.rank{}.log", run_dir, rank); }

  // Writes the last ops, completed and in flight, oldest first. Best effort: we are dying.
  void write_trace() {
    std::lock_guard<std::mutex> lock(mu);
    make_dirs(run_dir);
    std::ofstream out(trace_path());
    if (!out) return;
    const double now = now_s();
    out << "# dtbench comm trace, rank " << rank << ": last " << kHistory
        << " ops; age_s is seconds before this trace was written\n";
    out << "# state comm seq op age_s duration_s peers\n";
    std::vector<const Entry*> all;
    for (auto& e : history) all.push_back(&e);
    for (auto& e : in_flight) all.push_back(&e);
    std::size_t skip = all.size() > kHistory ? all.size() - kHistory : 0;
    for (std::size_t i = skip; i < all.size(); ++i) {
      const Entry& e = *all[i];
      const bool done = e.done >= 0;
      out << fmt::format("{} {} {} {} {:.3f} {} {}\n", done ? "done" : "IN-FLIGHT", e.op.comm, e.op.seq, e.op.what,
                         now - e.issued, done ? fmt::format("{:.6f}", e.done - e.issued) : std::string("-"),
                         e.op.peers);
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
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    auto& w = Watchdog::instance();
    std::string flying = w.in_flight_summary();
    w.fatal(fmt::format("received {}; {}", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                        flying.empty() ? std::string("no communication op in flight") : "op in flight: " + flying),
            3);
  }).detach();
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

void Watchdog::track(OpTrace op, std::shared_ptr<Work> work) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->in_flight.push_back(Impl::Entry{std::move(op), std::move(work), now_s(), -1});
}

Watchdog::Call::Call(Watchdog& w, OpTrace op) : work_(std::make_shared<CpuWork>()) { w.track(std::move(op), work_); }
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
  // us alive.
  std::thread([code] {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    ::_exit(code);
  }).detach();
  run_exit_hooks(cause.empty() ? message : cause, code);
  impl_->write_trace();
  log_line(fmt::format("{}; trace: {}; exiting {}", message, impl_->trace_path(), code));
  impl_->call_each(
      impl_->abort_hooks, [&](const auto& hook) { hook(code); }, /*newest_first=*/true);
  ::_exit(code);
}

}  // namespace dtbench
