// How long this process was kept from running although it had work: the time its threads
// waited to be scheduled (/proc/self/task/*/schedstat's run delay: CPU contention) plus the
// time its CPU cgroup was throttled by a CFS quota (cpu.stat, v2 or v1). Straggler attribution
// (core/train/stragglers.h) reads it around each step: a rank slowed by its CPU, even in its
// communication, shows it here; one slowed by its link does not.
#pragma once

namespace dtbench {

// A counter in seconds since some point in the past; differences are what matter. 0 where
// /proc or the cgroup files cannot be read (that part is left out).
double cpu_starved_s();

}  // namespace dtbench
