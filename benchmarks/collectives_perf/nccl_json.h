// -J FILE: the JSON file nccl-tests 2.19 writes (JSON_FILE_VERSION 3, its src/util.cu), so
// that tools built for it (its tools/analyze_perf_json.py) read ours unchanged. Its quirks are
// kept on purpose: one line, no spaces; doubles as %lf (6 decimals); booleans as the strings
// "true"/"false"; the root as a string of width 6; nwrong a double, null when not checked;
// "errors": [""] when there was none.
#pragma once

#include <string>
#include <vector>

#include "benchmarks/collectives_perf/args.h"
#include "benchmarks/collectives_perf/engine.h"

namespace dtbench::collperf {

// One entry of config.devices: one per process, in rank order.
struct NcclJsonDevice {
  int rank = 0, pid = 0, device = -1;  // device: the CUDA ordinal, -1 on CPU
  std::string hostname, device_hex, device_info;
};

struct NcclJsonRun {
  std::string start_time, end_time;  // "%Y-%m-%d %H:%M:%S", local time
  std::vector<std::string> args;     // argv
  std::vector<std::string> env;      // NAME=value: the record's variables (recorded_env.h)
  int nccl_version = 0;              // ncclGetVersion()'s code (22809); 0 when NCCL is not used
  std::vector<NcclJsonDevice> devices;
  double min_bw = -1;  // NCCL_TESTS_MIN_BW, -1 when unset: average_bus_bandwidth.okay
};

// nccl-tests' per-iteration summary: nearest-rank p95/p99, p50 = sorted[n/2], population stdev.
struct IterStats {
  double min = 0, max = 0, avg = 0, p50 = 0, p95 = 0, p99 = 0, stdev = 0, cv_pct = 0;
};
IterStats nccl_iter_stats(std::vector<double> samples);

// The file's text (no newline at the end, as nccl-tests writes it).
std::string nccl_tests_json(const NcclJsonRun& run, const BenchArgs& a, const EngineResult& res);

// Writes `text` as nccl-tests does: never over an existing file (PATH, else PATH.0, PATH.1,
// ...); returns the path written. Throws UsageError when none can be created.
std::string write_nccl_json(const std::string& path, const std::string& text);

// The time nccl-tests stamps: local time as "%Y-%m-%d %H:%M:%S".
std::string nccl_json_now();

}  // namespace dtbench::collperf
