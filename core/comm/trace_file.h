// --trace DIR (docs/ARCHITECTURE.md, "Diagnosis"): each rank writes its timeline to
// DIR/trace.rank<R>.json in Chrome Trace Event Format, with what the merge needs in
// "otherData": the run's id (one per run, from rank 0), the rank, its host, and its clock's
// offset to rank 0's measured at the start and at the end (core/comm/clock_sync.h).
// `dtbench-trace merge DIR` aligns the ranks' clocks and writes one trace.
#pragma once

#include <string>

#include "core/comm/clock_sync.h"

namespace dtbench {

inline constexpr const char* kTraceSchema = "dtbench.trace/v1";

class World;

// In init_world, once the world is up: turns the timeline on, agrees on the run's id and
// measures the clocks (collective). A folder that cannot be written is one line on stderr and
// no trace: the run goes on.
void start_trace(World& world, const std::string& dir);

// Collective, at the end of a run that traced: measures the clocks again and writes this
// rank's file. Returns its path ("" when not tracing).
std::string finish_trace(World& world);

}  // namespace dtbench
