#include "core/report/timeline.h"

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

namespace dtbench::timeline {

namespace {

struct State {
  std::atomic<bool> on{false};
  std::atomic<int> next_thread{0};
  std::mutex mu;
  std::vector<nlohmann::json> events;
  std::map<int, std::string> thread_names;
};

State& state() {
  static State* s = new State();  // never destroyed: threads may record while the process exits
  return *s;
}

double us(double s) { return s * 1e6; }

void push(nlohmann::json e) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.events.push_back(std::move(e));
}

}  // namespace

void enable() { state().on.store(true); }
bool on() { return state().on.load(std::memory_order_relaxed); }

int thread_index() {
  thread_local const int index = state().next_thread.fetch_add(1);
  return index;
}

void name_thread(const std::string& name) {
  State& s = state();
  const int tid = thread_index();
  std::lock_guard<std::mutex> lock(s.mu);
  s.thread_names[tid] = name;
}

void slice(const std::string& name, const char* cat, int tid, double begin_s, double end_s, nlohmann::json args) {
  if (!on()) return;
  nlohmann::json e = {{"name", name}, {"cat", cat},        {"ph", "X"},
                      {"tid", tid},   {"ts", us(begin_s)}, {"dur", us(end_s - begin_s)}};
  if (!args.empty()) e["args"] = std::move(args);
  push(std::move(e));
}

void instant_with_flow(const std::string& name, const char* cat, double at_s, uint64_t flow_id, int to_tid, double to_s,
                       nlohmann::json args, int tid) {
  if (!on()) return;
  push({{"name", name}, {"cat", cat}, {"ph", "i"}, {"s", "t"}, {"tid", tid}, {"ts", us(at_s)}, {"args", args}});
  // The arrow starts at the enqueue and binds to the enclosing slice on the running thread.
  push({{"name", name}, {"cat", cat}, {"ph", "s"}, {"id", flow_id}, {"tid", tid}, {"ts", us(at_s)}});
  push({{"name", name}, {"cat", cat}, {"ph", "f"}, {"bp", "e"}, {"id", flow_id}, {"tid", to_tid}, {"ts", us(to_s)}});
}

nlohmann::json events(int pid) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [tid, name] : s.thread_names)
    out.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", {{"name", name}}}});
  for (auto e : s.events) {
    e["pid"] = pid;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace dtbench::timeline
