#include "core/app/cli.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <cstdlib>
#include <thread>

#include "core/report/errors.h"
#include "core/report/files.h"
#include "core/report/flag_number.h"
#include "core/report/numbers.h"
#include "core/report/system_info.h"

namespace dtbench {

namespace {

// The flag in argv whose value is `text` (--name=text, --name text, -x text, -xtext).
std::string flag_with_value(int argc, char** argv, const std::string& text) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool next_is = i + 1 < argc && text == argv[i + 1];
    if (a.rfind("--", 0) == 0) {
      const auto eq = a.find('=');
      if (eq != std::string::npos ? a.substr(eq + 1) == text : next_is) return a.substr(0, eq);
    } else if (a.size() >= 2 && a[0] == '-') {
      if (a.size() > 2 ? a.substr(2) == text : next_is) return a.substr(0, 2);
    }
  }
  return "a flag";
}

}  // namespace

void add_common_flags(cxxopts::Options& o) {
  // clang-format off
  o.add_options("common")
      ("h,help", "print this help and exit")
      ("out", "write the result record (JSON, dtbench.result/v1) to FILE", cxxopts::value<std::string>(), "FILE")
      ("tag", "label the record with key=value (repeatable)", cxxopts::value<std::vector<std::string>>(), "K=V")
      ("run-dir", "folder for run files such as comm traces (default: the folder of --out, else .)",
       cxxopts::value<std::string>(), "DIR")
      ("trace", "write this rank's timeline (steps, spans, every communication op) to DIR/trace.rank<R>.json; "
       "merge the ranks' with dtbench-trace merge DIR", cxxopts::value<std::string>(), "DIR")
      ("comm-timeout", "seconds a communication op may take before every rank exits 3",
       number<double>()->default_value("600"), "S")
      ("debug-collectives", "check op, dtype and count across ranks before each op (slow)",
       cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
      ("threads", "intra-op CPU threads (default: max(1, usable CPUs / local ranks); usable: the affinity mask)", number<int>(), "N")
      ("backend", "mpi | nccl (CUDA) | store (CPU, no mpirun) | auto (cuda: nccl; cpu: mpi under mpirun, else store)",
       cxxopts::value<std::string>()->default_value("auto"), "NAME")
      ("device", "cpu | cuda", cxxopts::value<std::string>()->default_value("cpu"), "DEV");
  // clang-format on
  // clang-format off
  o.add_options("launch (normally read from the launcher's environment)")
      ("rank", "this process's rank", number<int>(), "R")
      ("world-size", "number of processes", number<int>(), "N")
      ("local-rank", "rank on this node", number<int>(), "R")
      ("local-world-size", "processes on this node", number<int>(), "N")
      ("master-addr", "address of rank 0's TCP store", cxxopts::value<std::string>(), "HOST")
      ("master-port", "port of rank 0's TCP store", number<int>(), "PORT");
  // clang-format on
}

cxxopts::ParseResult parse_flags(cxxopts::Options& options, int argc, char** argv) {
  cxxopts::ParseResult r;
  try {
    r = options.parse(argc, argv);
  } catch (const BadFlagValue& e) {
    throw UsageError(fmt::format("{} '{}': {}", flag_with_value(argc, argv, e.text), shown_text(e.text), e.what()));
  } catch (const std::exception& e) {
    throw UsageError(fmt::format("{}; see --help", e.what()));
  }
  if (r.count("help")) {
    std::fputs(options.help().c_str(), stdout);
    std::exit(0);
  }
  if (!r.unmatched().empty())
    throw UsageError(fmt::format("unexpected argument '{}'; flags start with - or --, see --help", r.unmatched()[0]));
  return r;
}

CommonArgs read_common_flags(const cxxopts::ParseResult& r) {
  CommonArgs a;
  if (r.count("out")) {
    a.out = r["out"].as<std::string>();
    // Found now, not when the record is written after the last step.
    const std::string why = check_writable_file(a.out);
    DT_USAGE(why.empty(), "--out {}: {}; give a path in a writable folder", a.out, why);
  }
  if (r.count("run-dir")) {
    a.run_dir = r["run-dir"].as<std::string>();
  } else {
    auto slash = a.out.rfind('/');
    a.run_dir = slash == std::string::npos ? "." : a.out.substr(0, slash);
  }
  if (r.count("tag")) {
    for (const auto& kv : r["tag"].as<std::vector<std::string>>()) {
      auto eq = kv.find('=');
      DT_USAGE(eq != std::string::npos && eq > 0, "--tag {}: write key=value", kv);
      a.tags.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
  }
  if (r.count("threads")) {
    // More threads than 4x the cores only thrash (and 100000 cannot start): refused up front.
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    a.threads = r["threads"].as<int>();
    DT_USAGE(a.threads >= 1 && a.threads <= 4 * cores, "--threads {}: want 1 to {} (4 x the {} online CPUs)", a.threads,
             4 * cores, cores);
  }
  if (r.count("rank")) a.launch.rank = r["rank"].as<int>();
  if (r.count("world-size")) a.launch.world_size = r["world-size"].as<int>();
  if (r.count("local-rank")) a.launch.local_rank = r["local-rank"].as<int>();
  if (r.count("local-world-size")) a.launch.local_world_size = r["local-world-size"].as<int>();
  if (r.count("master-addr")) a.launch.master_addr = r["master-addr"].as<std::string>();
  if (r.count("master-port")) a.launch.master_port = r["master-port"].as<int>();
  a.world.timeout_s = r["comm-timeout"].as<double>();
  // Whole milliseconds of it must fit the clocks' tick counts; 10^6 s is 11.5 days.
  check_range("--comm-timeout", a.world.timeout_s, 0.001, 1e6);
  a.world.debug_collectives = r["debug-collectives"].as<bool>();
  a.world.backend = r["backend"].as<std::string>();
  a.world.device = r["device"].as<std::string>();
  a.world.run_dir = a.run_dir;
  if (r.count("trace")) a.world.trace_dir = r["trace"].as<std::string>();
  return a;
}

int apply_threads(const CommonArgs& args, const LaunchInfo& launch) {
  int n = args.threads;
  if (n == 0) {
    // The CPUs this process may use, not the machine's: a rank bound to a core (Slurm, a
    // Kubernetes cpuset, a virtual node) running one thread per machine core would thrash.
    n = std::max(1, usable_cpus() / std::max(1, launch.local_world_size));
  }
  at::set_num_threads(n);
  nlohmann::json cpu = system_info()["cpu"];
  cpu["threads"] = n;
  set_system_info("cpu", cpu);
  return n;
}

nlohmann::json flags_json(const cxxopts::ParseResult& r) {
  nlohmann::json cfg = nlohmann::json::object();
  for (const auto& kv : r.arguments()) cfg[kv.key()] = kv.value();
  // Defaults too: a record names every resolved flag, not only the typed ones.
  for (const auto& kv : r.defaults()) {
    if (!cfg.contains(kv.key())) cfg[kv.key()] = kv.value();
  }
  return cfg;
}

std::vector<int64_t> parse_count_list(const std::string& flag, const std::string& text) {
  std::vector<int64_t> out;
  if (text.empty()) return out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    DT_USAGE(!item.empty() && item.size() <= 9 && item.find_first_not_of("0123456789") == std::string::npos,
             "{} {}: a comma-separated list of counts, e.g. 3,3,2", flag, text);
    out.push_back(std::stoll(item));
    if (comma == std::string::npos) return out;
    pos = comma + 1;
  }
}

}  // namespace dtbench
