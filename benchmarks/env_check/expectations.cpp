// --expect: what the user says must be found, and the instance table behind instance=.
#include <fmt/format.h>

#include <map>
#include <sstream>

#include "benchmarks/env_check/check.h"
#include "core/report/errors.h"

namespace dtbench::envcheck {

namespace {

struct Shape {
  int gpus, efa;
};

// GPUs and EFA interfaces per instance type, as AWS publishes them (EC2 accelerated
// computing instance specifications). A type not listed needs gpus= and efa= spelled out.
const std::map<std::string, Shape>& instance_table() {
  static const std::map<std::string, Shape> t = {
      {"p4d.24xlarge", {8, 4}},  {"p4de.24xlarge", {8, 4}},  {"p5.48xlarge", {8, 32}},
      {"p5e.48xlarge", {8, 32}}, {"p5en.48xlarge", {8, 16}}, {"p6-b200.48xlarge", {8, 8}},
      {"p5.4xlarge", {1, 4}},    {"g6e.48xlarge", {8, 4}},   {"p3dn.24xlarge", {8, 1}},
  };
  return t;
}

int parse_count(const std::string& key, const std::string& v) {
  size_t used = 0;
  int n = -1;
  try {
    n = std::stoi(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  DT_USAGE(used == v.size() && n >= 0, "--expect {}={}: not a count; write e.g. {}=8", key, v, key);
  return n;
}

}  // namespace

bool instance_shape(const std::string& type, int* gpus, int* efa) {
  auto it = instance_table().find(type);
  if (it == instance_table().end()) return false;
  *gpus = it->second.gpus;
  *efa = it->second.efa;
  return true;
}

Expectations parse_expectations(const std::vector<std::string>& items) {
  Expectations e;
  int gpus = -1, efa = -1;
  for (const std::string& item : items) {
    std::string text = item;
    for (char& c : text)
      if (c == ',') c = ' ';
    std::istringstream words(text);
    std::string kv;
    while (words >> kv) {
      const auto eq = kv.find('=');
      DT_USAGE(eq != std::string::npos && eq > 0,
               "--expect {}: write key=value, e.g. instance=p5.48xlarge or gpus=8 efa=32", kv);
      const std::string key = kv.substr(0, eq), v = kv.substr(eq + 1);
      if (key == "instance")
        e.instance = v;
      else if (key == "gpus")
        gpus = parse_count(key, v);
      else if (key == "efa")
        efa = parse_count(key, v);
      else
        throw UsageError(fmt::format("--expect {}: unknown key '{}'; use instance, gpus or efa", kv, key));
    }
  }
  if (!e.instance.empty()) {
    std::string known;
    for (auto& [name, shape] : instance_table()) known += (known.empty() ? "" : ", ") + name;
    DT_USAGE(instance_shape(e.instance, &e.gpus, &e.efa) || (gpus >= 0 && efa >= 0),
             "--expect instance={}: not in env_check's table ({}); add gpus=N efa=N", e.instance, known);
  }
  if (gpus >= 0) e.gpus = gpus;
  if (efa >= 0) e.efa = efa;
  return e;
}

void check_expectations(const Expectations& e, const Facts& f, std::vector<Check>& out) {
  if (!e.instance.empty()) {
    const std::string have = f.instance.empty() ? "unknown (no EC2 instance type in DMI)" : f.instance;
    if (f.instance == e.instance)
      out.push_back(ok("expect instance", have));
    else
      out.push_back(fail("expect instance", have, fmt::format("expected {}", e.instance)));
  }
  if (e.gpus >= 0) {
    if (f.gpus == e.gpus)
      out.push_back(ok("expect gpus", f.gpus));
    else
      out.push_back(fail("expect gpus", f.gpus, fmt::format("expected {} GPUs, {} visible", e.gpus, f.gpus)));
  }
  if (e.efa >= 0) {
    if (f.efa == e.efa)
      out.push_back(ok("expect efa", f.efa));
    else
      out.push_back(fail("expect efa", f.efa, fmt::format("expected {} EFA devices, {} found", e.efa, f.efa)));
  }
}

int version_compare(const std::string& a, const std::string& b) {
  std::istringstream x(a), y(b);
  for (;;) {
    int p = 0, q = 0;
    char dot;
    const bool has_p = static_cast<bool>(x >> p), has_q = static_cast<bool>(y >> q);
    if (!has_p && !has_q) return 0;
    if (p != q) return p < q ? -1 : 1;
    x >> dot;
    y >> dot;
  }
}

nlohmann::json to_json(const Check& c) {
  return {{"name", c.name}, {"verdict", c.verdict}, {"value", c.value}, {"detail", c.detail}};
}

}  // namespace dtbench::envcheck
