// The flags every executable shares (docs/ARCHITECTURE.md, "CLI"), on cxxopts.
//
// Boolean flags read --name (on) and --name=false (off). Parse errors become usage errors
// (exit 2) naming the flag; --help prints and exits 0.
#pragma once

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/comm/launch_env.h"
#include "core/comm/world.h"
#include "core/report/flag_number.h"

namespace dtbench {

struct CommonArgs {
  std::string out;      // result record path; "" for none
  std::string run_dir;  // traces and other run files
  std::vector<std::pair<std::string, std::string>> tags;
  int threads = 0;  // intra-op threads; 0 = max(1, cores / local ranks)
  LaunchFlags launch;
  WorldOptions world;
};

// Adds --help --out --tag --run-dir --comm-timeout --debug-collectives --threads --backend
// --device and the launch flags (--rank --world-size --local-rank --local-world-size
// --master-addr --master-port).
void add_common_flags(cxxopts::Options& options);

// Parses argv; prints help and exits 0 on --help; throws UsageError on bad flags or
// positional arguments.
cxxopts::ParseResult parse_flags(cxxopts::Options& options, int argc, char** argv);

CommonArgs read_common_flags(const cxxopts::ParseResult& r);

// Sets at::set_num_threads from --threads (default max(1, cores / local ranks)); returns it.
int apply_threads(const CommonArgs& args, const LaunchInfo& launch);

// "3,3,2" as counts (each at least 0); "" as none. UsageError naming `flag` otherwise.
std::vector<int64_t> parse_count_list(const std::string& flag, const std::string& text);

// Every flag's resolved value, for the record's "config".
nlohmann::json flags_json(const cxxopts::ParseResult& r);

}  // namespace dtbench
