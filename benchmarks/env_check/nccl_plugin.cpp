// Which net plugin NCCL will load, found by NCCL's own search rules, and its version:
// without the aws-ofi-nccl plugin NCCL silently uses sockets between nodes.
#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <regex>

#include "benchmarks/env_check/check.h"
#include "benchmarks/env_check/nccl_plugin.h"

namespace dtbench::envcheck {

std::vector<std::string> nccl_plugin_candidates() {
  // NCCL_NET_PLUGIN=none: no plugin. NCCL_NET_PLUGIN=x: libnccl-net-x.so, then x as given.
  // Unset: libnccl-net.so (which aws-ofi-nccl installs, beside libnccl-net-ofi.so). Each is
  // looked up by dlopen, so LD_LIBRARY_PATH and the loader cache decide, as for NCCL.
  const char* v = std::getenv("NCCL_NET_PLUGIN");
  if (!v || !*v) return {"libnccl-net.so"};
  const std::string name = v;
  if (name == "none") return {};
  return {fmt::format("libnccl-net-{}.so", name), name};
}

PluginInfo find_nccl_plugin() {
  PluginInfo p;
  for (const std::string& candidate : nccl_plugin_candidates()) {
    p.tried.push_back(candidate);
    void* h = ::dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      p.error = ::dlerror();
      continue;
    }
    for (int v = 12; v >= 2 && p.api.empty(); --v)
      if (::dlsym(h, fmt::format("ncclNetPlugin_v{}", v).c_str())) p.api = fmt::format("v{}", v);
    Dl_info info{};
    if (void* sym = ::dlsym(h, fmt::format("ncclNetPlugin_{}", p.api).c_str()); sym && ::dladdr(sym, &info))
      p.path = info.dli_fname;
    p.found = candidate;
    // aws-ofi-nccl prints "NET/OFI Initializing aws-ofi-nccl <version>" from a string in the
    // library itself.
    std::ifstream in(p.path.empty() ? candidate : p.path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::smatch m;
    static const std::regex version(R"(aws-ofi-nccl[ -](\d+\.\d+\.\d+[-\w]*))");
    if (std::regex_search(bytes, m, version)) p.version = m[1];
    ::dlclose(h);
    break;
  }
  return p;
}

void probe_nccl_plugin(Facts& f, std::vector<Check>& out) {
  const PluginInfo p = find_nccl_plugin();
  f.ofi_plugin_version = p.version;
  nlohmann::json value = {
      {"tried", p.tried}, {"found", p.found}, {"path", p.path}, {"api", p.api}, {"aws_ofi_nccl", p.version}};
  if (!p.found.empty()) {
    out.push_back(ok("nccl_net_plugin", value,
                     p.version.empty() ? p.path : fmt::format("aws-ofi-nccl {} at {}", p.version, p.path)));
  } else if (f.efa > 0) {
    out.push_back(fail("nccl_net_plugin", value,
                       fmt::format("NCCL finds no net plugin ({}): it will use sockets, not EFA; add aws-ofi-nccl's "
                                   "lib folder (/opt/amazon/ofi-nccl/lib) to LD_LIBRARY_PATH",
                                   p.tried.empty() ? "NCCL_NET_PLUGIN=none" : p.error)));
  } else {
    out.push_back(ok("nccl_net_plugin", value, "none found; not needed without EFA (NCCL uses IB or sockets)"));
  }
}

}  // namespace dtbench::envcheck
