// efa_exporter: the EFA hardware counters of this node as a node_exporter textfile, so that
// Prometheus keeps their history beside the benchmark figures (results/grafana's dashboard
// plots their rates).
//   efa_exporter --textfile-dir /var/lib/prometheus/node-exporter              # once (a systemd timer)
//   efa_exporter --textfile-dir /var/lib/prometheus/node-exporter --interval 15 # a loop (a DaemonSet)
//   efa_exporter --list                     # the EFA devices, one name per line (slurm/common.sh)
// Each pass writes DIR/dtbench_efa.prom whole (a temporary file renamed over it, so the
// collector never reads half a file):
//   dtbench_efa_devices                                   EFA devices found (0 on a node without)
//   dtbench_efa_hw_total{device="rdmap16s27",hw_counter="tx_bytes"}   each hw_counters file,
//                                                         summed over the device's ports
// The devices are those core/report/efa_counters finds: RDMA devices whose driver is efa
// (DTBENCH_SYSFS_ROOT names another sysfs tree, for tests). `lifespan` is a setting, not a
// count, and is left out.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/report/efa_counters.h"
#include "core/report/errors.h"
#include "core/report/files.h"
#include "core/report/flag_number.h"

using namespace dtbench;

namespace {

std::string exposition(const std::vector<EfaDevice>& devices) {
  std::string out =
      "# HELP dtbench_efa_devices EFA devices on this node (driver efa under /sys/class/infiniband)\n"
      "# TYPE dtbench_efa_devices gauge\n";
  out += fmt::format("dtbench_efa_devices {}\n", devices.size());
  out +=
      "# HELP dtbench_efa_hw_total EFA hardware counter (ports/*/hw_counters), summed over the "
      "device's ports\n"
      "# TYPE dtbench_efa_hw_total counter\n";
  for (const EfaDevice& d : devices)
    for (const auto& [name, value] : d.counters)
      if (name != "lifespan")
        out += fmt::format("dtbench_efa_hw_total{{device=\"{}\",hw_counter=\"{}\"}} {}\n", d.name, name, value);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("efa_exporter", [&] {
    cxxopts::Options o("efa_exporter",
                       "EFA hardware counters as a node_exporter textfile (DIR/dtbench_efa.prom), once or every "
                       "--interval seconds.");
    // clang-format off
    o.add_options()
        ("h,help", "print this help and exit")
        ("textfile-dir", "node_exporter's --collector.textfile.directory", cxxopts::value<std::string>(), "DIR")
        ("list", "print the EFA devices, one name per line, and exit",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
        ("interval", "seconds between passes; 0: one pass and exit (for a systemd timer)",
         number<double>()->default_value("0"), "S");
    // clang-format on
    auto r = parse_flags(o, argc, argv);
    if (r["list"].as<bool>()) {
      for (const EfaDevice& d : read_efa_devices()) std::printf("%s\n", d.name.c_str());
      return 0;
    }
    DT_USAGE(r.count("textfile-dir"), "--textfile-dir DIR is required (node_exporter's textfile folder)");
    const std::string dir = r["textfile-dir"].as<std::string>();
    const double interval = r["interval"].as<double>();
    DT_USAGE(interval == 0 || (interval >= 0.1 && interval <= 86400),
             "--interval {}: want 0 (one pass) or 0.1 to 86400 seconds", interval);
    const std::string path = dir + "/dtbench_efa.prom";
    const std::string unwritable = check_writable_file(path);
    DT_USAGE(unwritable.empty(), "--textfile-dir {}: {}", dir, unwritable);
    for (;;) {
      write_file_atomic(path, exposition(read_efa_devices()));
      if (interval == 0) return 0;
      std::this_thread::sleep_for(std::chrono::duration<double>(interval));
    }
  });
}
