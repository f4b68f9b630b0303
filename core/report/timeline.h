// The timeline (docs/ARCHITECTURE.md, "Diagnosis"): what each thread of this rank did and
// when, for `--trace DIR`, written as Chrome Trace Event Format JSON that Perfetto and
// chrome://tracing open. Spans (span.h) add their slices, the watchdog adds every
// communication op (enqueued on the thread that issued it, run on the thread that ran it).
// Off unless enabled: a recording then costs a clock read and a locked push per event.
//
// Times are this process's steady clock (CLOCK_MONOTONIC) in microseconds; the ranks'
// clocks are aligned when the traces are merged (tools/trace, core/comm/clock_sync.h).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace dtbench {

namespace timeline {

void enable();
bool on();
// A small number for the calling thread (0 for the first thread that asks), stable for its life.
int thread_index();
void name_thread(const std::string& name);  // "main", "op thread 1", ...

// A complete slice [begin_s, end_s] (now_s() seconds) on thread `tid`, in category `cat`.
void slice(const std::string& name, const char* cat, int tid, double begin_s, double end_s,
           nlohmann::json args = nlohmann::json::object());
// An instant at `at_s` on thread `tid`, and a flow arrow from it to the slice that starts at
// `to_s` on `to_tid` (an op's enqueue and its run); `flow_id` is unique in the process.
void instant_with_flow(const std::string& name, const char* cat, double at_s, uint64_t flow_id, int to_tid, double to_s,
                       nlohmann::json args, int tid);

// Every event so far, with thread-name metadata, as Trace Event Format events of process `pid`.
nlohmann::json events(int pid);

}  // namespace timeline

}  // namespace dtbench
