// The watchdog (docs/ARCHITECTURE.md, "Communicator" and "Diagnosis"): no rank waits forever.
//
// It knows every op in flight (communicator and its ranks, sequence number, op, bytes, the
// spans it was issued in, issue time, enqueued/started/done) and the rank's last 64 ops.
// Past --comm-timeout, or when a backend reports an asynchronous error, it prints one message
// naming the op, the communicator and the peers, writes the trace to
// <run-dir>/comm_trace.rank<R>.json, waits a moment for the other ranks' traces and, on the
// lowest rank that wrote one, prints the desync report (core/comm/desync.h); then it runs the
// backends' abort hooks (ncclCommAbort, MPI_Abort) and exits 3. SIGTERM and SIGINT do the
// same. SIGUSR1 writes the trace and prints the report without stopping the run.
//
// It is also the process's one way out on failure: whichever thread fails first (the main
// thread with an error, the watchdog with a timeout, the signal thread) passes last_words()
// and reports; any later one blocks until the process is gone, so one failure is reported
// once, with one exit code, however the paths race. Exit hooks (the failed run's record) run
// there, on the path that reports.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/comm/work.h"

namespace dtbench {

struct OpTrace {
  std::string comm;     // communicator name
  uint64_t seq = 0;     // its sequence number on that communicator
  std::string what;     // "all_reduce float x 1024 sum in-place"
  std::string peers;    // "world ranks 0-3" or "world rank 2"
  std::string group;    // the communicator's world ranks, "0-3" ("" for a blocking call)
  int64_t bytes = 0;    // of the op's input (its output where it has none)
  std::string context;  // the issuing thread's spans, "step 3 / fsdp unit 7 forward"
  int64_t step = -1;    // the training step it was issued in (op_timing.h), -1 outside one
};

class Watchdog {
 public:
  static Watchdog& instance();

  // Blocks SIGTERM/SIGINT/SIGUSR1 in the calling thread and in every thread started after
  // it; call first thing in main(). A dedicated thread then takes the signals.
  static void install_signal_handling();

  void configure(double timeout_s, const std::string& run_dir, int rank);
  // Every rank's host, once the world is up: the traces name them, and the desync report
  // waits for that many traces.
  void set_hosts(std::vector<std::string> hosts);
  bool world_up();  // set_hosts was called
  // Puts every completed op on the timeline now (the poll does it every 50 ms); before the
  // timeline is written.
  void flush_timeline();
  double timeout_s() const;

  // Watches `work` from now on; it leaves the in-flight set when it completes. `issued_s`:
  // when it was issued (now_s(); now when < 0), taken before the backend could start it.
  void track(OpTrace op, std::shared_ptr<Work> work, double issued_s = -1);

  // A blocking call made by the calling thread (bootstrap, --debug-collectives checks).
  class Call {
   public:
    Call(Watchdog& w, OpTrace op);
    ~Call();

   private:
    std::shared_ptr<CpuWork> work_;
  };

  // Abort hooks run, newest first, before the process exits 3. Health checks run every
  // poll and return an error message when their backend has failed asynchronously.
  int add_abort_hook(std::function<void(int code)> hook);
  void remove_abort_hook(int id);
  bool has_abort_hooks();
  int add_health_check(std::function<std::optional<std::string>()> check);
  void remove_health_check(int id);

  // Exit hooks run once, on the failing path, before the abort hooks: cause and exit code.
  int add_exit_hook(std::function<void(const std::string& cause, int code)> hook);
  void remove_exit_hook(int id);

  // Claims the failure path for the calling thread and runs the exit hooks; in any later
  // caller it never returns (the first is taking the process down).
  void last_words(const std::string& cause, int code);

  // last_words() (with `cause`, or `message` when it is empty), then prints `message`, writes
  // the trace, runs the abort hooks and exits with `code` (within 5 s, whatever a hook does).
  [[noreturn]] void fatal(const std::string& message, int code, const std::string& cause = "");

  // The oldest op in flight, as text ("" when none); for messages.
  std::string in_flight_summary();

 private:
  Watchdog();
  void claim_failure();
  void dump_on_request();  // SIGUSR1
  void run_exit_hooks(const std::string& cause, int code);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtbench
