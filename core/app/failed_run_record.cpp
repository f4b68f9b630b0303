#include "core/app/failed_run_record.h"

#include <exception>
#include <mutex>

#include "core/comm/watchdog.h"
#include "core/report/clock.h"
#include "core/report/log.h"
#include "core/report/result.h"

namespace dtbench {

struct FailedRunRecord::State {
  std::mutex mu;
  nlohmann::json record;
  std::string out;
  Stopwatch clock;

  void write(const std::string& cause, int code) noexcept {
    try {
      // A step being added while the watchdog takes the process down: wait for it (it is
      // short), so the record holds whole steps only.
      const std::lock_guard<std::mutex> lock(mu);
      record["status"] = "failed";
      record["error"] = cause;
      record["exit_code"] = code;
      record["duration_s"] = clock.elapsed_s();
      write_json_atomic(out, record);
      logf("the failed run's record: {} ({} step(s) done)", out, record["steps"].size());
    } catch (const std::exception& e) {  // best effort: the process is exiting with its cause already
      logf("cannot write the failed run's record {}: {}", out, e.what());
    }
  }
};

FailedRunRecord::FailedRunRecord(const nlohmann::json& record, const std::string& out, int rank)
    : unwinding_at_start_(std::uncaught_exceptions()) {
  if (rank != 0 || out.empty()) return;
  state_ = std::make_shared<State>();
  state_->record = record;
  state_->record["steps"] = nlohmann::json::array();
  state_->out = out;
  hook_ = Watchdog::instance().add_exit_hook(
      [state = state_](const std::string& cause, int code) { state->write(cause, code); });
}

FailedRunRecord::~FailedRunRecord() {
  if (std::uncaught_exceptions() == unwinding_at_start_) disarm();
}

void FailedRunRecord::add_step(const nlohmann::json& step) {
  if (!state_) return;
  const std::lock_guard<std::mutex> lock(state_->mu);
  state_->record["steps"].push_back(step);
}

void FailedRunRecord::disarm() {
  if (hook_ >= 0) Watchdog::instance().remove_exit_hook(hook_);
  hook_ = -1;
}

}  // namespace dtbench
