#include "core/comm/fabric_version.h"

#include <fmt/format.h>
#include <rdma/fabric.h>

#include <set>

#include "core/report/system_info.h"

namespace dtbench {

std::string libfabric_version() {
  const uint32_t v = fi_version();
  return fmt::format("{}.{}", FI_MAJOR(v), FI_MINOR(v));
}

void record_libfabric_version() { set_system_info("libfabric", libfabric_version()); }

std::vector<std::string> libfabric_providers() {
  fi_info* list = nullptr;
  std::set<std::string> names;
  if (fi_getinfo(FI_VERSION(1, 9), nullptr, nullptr, 0, nullptr, &list) == 0) {
    for (fi_info* i = list; i; i = i->next) {
      const std::string n = i->fabric_attr->prov_name;
      names.insert(n.substr(0, n.find(';')));
    }
    fi_freeinfo(list);
  }
  return {names.begin(), names.end()};
}

}  // namespace dtbench
