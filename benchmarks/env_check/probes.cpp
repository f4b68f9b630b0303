// The probes that need no GPU: the instance, memory limits, the fabric, the software
// stack, and the EFA/NCCL environment against AWS's guidance for the detected versions.
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <torch/headeronly/version.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "benchmarks/env_check/check.h"
#include "core/report/efa_counters.h"
#include "core/report/files.h"
#include "core/report/system_info.h"

#ifdef DTBENCH_WITH_LIBFABRIC
#include "core/comm/fabric_version.h"
#endif
#ifdef DTBENCH_WITH_MPI
#include <mpi.h>
#endif

namespace dtbench::envcheck {

namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

std::string gib(double bytes) { return fmt::format("{:.1f} GiB", bytes / (1 << 30)); }

}  // namespace

void probe_system(Facts& f, std::vector<Check>& out) {
  // On EC2 (Nitro) the DMI product name is the instance type.
  f.instance = first_line(sysfs_root() + "/devices/virtual/dmi/id/product_name");
  const std::string vendor = first_line(sysfs_root() + "/devices/virtual/dmi/id/sys_vendor");
  if (vendor == "Amazon EC2" && !f.instance.empty()) {
    out.push_back(ok("instance", f.instance));
  } else {
    f.instance.clear();
    out.push_back(ok("instance", "not EC2", fmt::format("DMI vendor '{}'", vendor.empty() ? "unreadable" : vendor)));
  }
  utsname u{};
  ::uname(&u);
  out.push_back(ok("kernel", std::string(u.release)));
  out.push_back(ok("libtorch", TORCH_VERSION));
#ifdef DTBENCH_WITH_MPI
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);  // allowed before MPI_Init
  std::string v(version, static_cast<size_t>(len));
  out.push_back(ok("mpi", v.substr(0, v.find_first_of(",\n"))));
#else
  out.push_back(ok("mpi", "not built", "built with DTBENCH_WITH_MPI=OFF: NCCL is bootstrapped over the TCP store"));
#endif

  // Hugepages: libfabric's EFA provider uses them for its bounce buffers when it can.
  const long long huge = meminfo_kib("HugePages_Total"), huge_free = meminfo_kib("HugePages_Free"),
                  huge_kb = meminfo_kib("Hugepagesize");
  out.push_back(ok("hugepages", {{"total", huge}, {"free", huge_free}, {"size_kib", huge_kb}},
                   huge > 0 ? "" : "none reserved: EFA's provider falls back to regular pages"));

  // /dev/shm: NCCL's intra-node transport lives there; Docker's default 64 MiB breaks it.
  struct statvfs st {};
  if (::statvfs("/dev/shm", &st) != 0) {
    out.push_back(fail("dev_shm", nullptr, "/dev/shm is missing: NCCL's shared-memory transport needs it"));
  } else {
    const double bytes = static_cast<double>(st.f_blocks) * static_cast<double>(st.f_frsize);
    const std::string fix = "give the container --shm-size=8g or --ipc=host";
    if (bytes < 512.0 * (1 << 20))
      out.push_back(fail("dev_shm", gib(bytes), "NCCL between local GPUs fails with this little /dev/shm; " + fix));
    else if (bytes < 1.0 * (1 << 30))
      out.push_back(warn("dev_shm", gib(bytes), "below 1 GiB: large intra-node collectives may fail; " + fix));
    else
      out.push_back(ok("dev_shm", gib(bytes)));
  }
}

void probe_fabric(Facts& f, std::vector<Check>& out) {
  const std::vector<EfaDevice> devices = read_efa_devices();
  f.efa = static_cast<int>(devices.size());
  std::vector<std::string> names;
  for (const auto& d : devices) names.push_back(d.name);
  if (f.efa > 0)
    out.push_back(ok("efa_devices", f.efa, fmt::format("first {}", names.front())));
  else
    out.push_back(ok("efa_devices", 0, "no EFA device in " + sysfs_root() + "/class/infiniband"));

  // Locked memory: EFA registers memory; a limited memlock shows up as "Cannot allocate
  // memory" from fi_mr_reg long after start-up.
  rlimit lim{};
  ::getrlimit(RLIMIT_MEMLOCK, &lim);
  const bool unlimited = lim.rlim_cur == RLIM_INFINITY;
  const nlohmann::json memlock = unlimited ? nlohmann::json("unlimited") : nlohmann::json(lim.rlim_cur / 1024);
  const std::string memlock_fix =
      "raise it: 'ulimit -l unlimited', Slurm PropagateResourceLimitsExcept=MEMLOCK, Docker --ulimit memlock=-1";
  if (unlimited)
    out.push_back(ok("memlock_kib", memlock));
  else if (f.efa > 0)
    out.push_back(fail("memlock_kib", memlock,
                       "EFA needs an unlimited locked-memory limit ('Cannot allocate memory'); " + memlock_fix));
  else
    out.push_back(warn("memlock_kib", memlock, "limited; harmless without EFA, fatal with it; " + memlock_fix));

#ifdef DTBENCH_WITH_LIBFABRIC
  f.libfabric = libfabric_version();
  f.providers = libfabric_providers();
  const bool has_efa = std::find(f.providers.begin(), f.providers.end(), "efa") != f.providers.end();
  out.push_back(ok("libfabric", f.libfabric));
  if (f.efa > 0 && !has_efa)
    out.push_back(fail("libfabric_providers", f.providers,
                       "EFA devices but no efa provider in this libfabric: put AWS's (/opt/amazon/efa/lib) first on "
                       "LD_LIBRARY_PATH"));
  else
    out.push_back(ok("libfabric_providers", f.providers));
#else
  out.push_back(f.efa > 0 ? fail("libfabric", "not built", "EFA devices here but dtbench was built without libfabric")
                          : ok("libfabric", "not built", "built with DTBENCH_WITH_LIBFABRIC=OFF"));
#endif
}

void probe_environment(const Facts& f, std::vector<Check>& out) {
  const bool efa = f.efa > 0;
  const bool lf_known = !f.libfabric.empty();
  auto at_least = [&](const char* v) { return lf_known && version_compare(f.libfabric, v) >= 0; };

  if (const char* v = env("FI_EFA_USE_DEVICE_RDMA"); v && at_least("1.18"))
    out.push_back(warn("env FI_EFA_USE_DEVICE_RDMA", v,
                       fmt::format("obsolete with libfabric {} (>= 1.18 turns device RDMA on where the instance has "
                                   "it); remove it",
                                   f.libfabric)));
  for (const char* name : {"FI_EFA_FORK_SAFE", "RDMAV_FORK_SAFE"})
    if (const char* v = env(name); v && at_least("1.13"))
      out.push_back(
          warn(std::string("env ") + name, v,
               fmt::format("obsolete with libfabric {} (>= 1.13 handles fork itself); remove it", f.libfabric)));
  if (const char* v = env("FI_PROVIDER")) {
    if (efa && std::string(v) != "efa")
      out.push_back(fail("env FI_PROVIDER", v,
                         "EFA devices here, but libfabric is told to use another provider: set "
                         "FI_PROVIDER=efa or unset it"));
    else if (!efa && std::string(v) == "efa")
      out.push_back(fail("env FI_PROVIDER", v,
                         "no EFA device here: the OFI plugin will find no provider and NCCL "
                         "falls back to sockets; unset it on this machine"));
  } else if (efa) {
    out.push_back(warn("env FI_PROVIDER", nullptr,
                       "unset: set FI_PROVIDER=efa so a broken EFA fails loudly instead "
                       "of silently using another provider"));
  }
  if (const char* v = env("NCCL_NET"); v && efa && std::string(v).find("Libfabric") == std::string::npos)
    out.push_back(fail("env NCCL_NET", v, "forces NCCL off the aws-ofi-nccl plugin on an EFA machine; unset it"));
  if (const char* v = env("NCCL_NET_PLUGIN"); v && efa && std::string(v) == "none")
    out.push_back(fail("env NCCL_NET_PLUGIN", v, "disables the net plugin: NCCL would use sockets; unset it"));
  for (const char* name : {"NCCL_PROTO", "NCCL_ALGO"})
    if (const char* v = env(name))
      out.push_back(warn(std::string("env ") + name, v,
                         "overrides NCCL's (and the OFI tuner's) choice for every size; keep it only with a measured "
                         "win on this NCCL"));
  for (const char* name : {"NCCL_P2P_DISABLE", "NCCL_SHM_DISABLE"})
    if (const char* v = env(name); v && std::string(v) == "1")
      out.push_back(warn(std::string("env ") + name, v, "slows every transfer between local GPUs; unset it"));
  if (const char* v = env("NCCL_DEBUG"); v && (std::string(v) == "INFO" || std::string(v) == "TRACE"))
    out.push_back(warn("env NCCL_DEBUG", v,
                       "verbose: slows start-up and floods logs; dtbench reads NCCL's choice "
                       "itself when NCCL_DEBUG is unset"));
  if (const char* v = env("NCCL_SOCKET_IFNAME"); v && v[0] != '^') {
    // NCCL matches interface-name prefixes ("=name" exactly); one must exist.
    std::string list = v, missing;
    std::istringstream parts(list);
    std::string part;
    const std::vector<std::string> ifaces = list_dir("/sys/class/net");
    while (std::getline(parts, part, ',')) {
      const bool exact = !part.empty() && part[0] == '=';
      const std::string want = exact ? part.substr(1) : part;
      bool found = false;
      for (const auto& i : ifaces) found = found || (exact ? i == want : i.rfind(want, 0) == 0);
      if (!found) missing += (missing.empty() ? "" : ", ") + part;
    }
    if (!missing.empty())
      out.push_back(
          fail("env NCCL_SOCKET_IFNAME", v,
               fmt::format("no interface here matches {}; NCCL cannot bootstrap (ip -br link lists them)", missing)));
  }
}

}  // namespace dtbench::envcheck
