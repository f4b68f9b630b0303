#include "core/predict/hw_profile.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/report/errors.h"
#include "core/report/numbers.h"

#ifndef DTBENCH_SOURCE_DIR
#define DTBENCH_SOURCE_DIR "."
#endif

namespace dtbench {

namespace {

constexpr Coll kColls[] = {Coll::kAllReduce, Coll::kAllGather, Coll::kReduceScatter, Coll::kAllToAll, Coll::kSendRecv};

std::string profile_dir() {
  const char* env = std::getenv("DTBENCH_PROFILE_DIR");
  return env && *env ? env : std::string(DTBENCH_SOURCE_DIR) + "/profiles";
}

// A source is a URL with the quoted text it was read from, or the records it was fitted to.
void check_source(const nlohmann::json& s, const std::string& where, const std::string& field) {
  const bool quoted = s.is_object() && s.contains("url") && s["url"].is_string() &&
                      !s["url"].get<std::string>().empty() && s.contains("quote") && s["quote"].is_string() &&
                      !s["quote"].get<std::string>().empty();
  const bool calibrated = s.is_object() && s.contains("calibrated") && s["calibrated"].is_string();
  DT_USAGE(quoted || calibrated,
           "hardware profile {}: {} has no source: give \"source\": {{\"url\", \"quote\"}} or make it null", where,
           field);
}

// A present field must be there (null is allowed: unknown); a figure needs a finite value
// above `min` (or at least it, `inclusive`) and a source.
std::optional<Figure> figure(const nlohmann::json& parent, const char* key, const std::string& where,
                             const std::string& path, double min = 0, bool inclusive = false) {
  const std::string field = path + "." + key;
  DT_USAGE(parent.is_object() && parent.contains(key),
           "hardware profile {}: {} is missing (null if no source gives it)", where, field);
  const auto& f = parent[key];
  if (f.is_null()) return std::nullopt;
  DT_USAGE(f.is_object() && f.contains("value") && f["value"].is_number(),
           "hardware profile {}: {} needs a numeric \"value\"", where, field);
  const double v = f["value"].get<double>();
  DT_USAGE(std::isfinite(v) && (inclusive ? v >= min : v > min), "hardware profile {}: {} is {}: it must be {} {}",
           where, field, v, inclusive ? "at least" : "above", min);
  check_source(f.value("source", nlohmann::json()), where, field);
  return Figure{v, f["source"]};
}

const nlohmann::json& object_at(const nlohmann::json& parent, const char* key, const std::string& where,
                                const std::string& path) {
  DT_USAGE(parent.is_object() && parent.contains(key) && parent[key].is_object(),
           "hardware profile {}: {}.{} is missing (an object)", where, path, key);
  return parent[key];
}

std::map<Coll, CollectiveFit> parse_fits(const nlohmann::json& colls, const std::string& where,
                                         const std::string& path) {
  std::map<Coll, CollectiveFit> out;
  for (const auto& [name, f] : colls.items()) {
    const auto c = coll_from_name(name);
    const std::string field = fmt::format("{}.{}", path, name);
    DT_USAGE(c.has_value(),
             "hardware profile {}: {}: not a collective (all_reduce, all_gather, reduce_scatter, "
             "all_to_all, send_recv)",
             where, field);
    DT_USAGE(f.is_object() && f.contains("latency_s") && f["latency_s"].is_number() && f.contains("bus_bandwidth") &&
                 f["bus_bandwidth"].is_number(),
             "hardware profile {}: {} needs latency_s and bus_bandwidth", where, field);
    CollectiveFit fit;
    fit.latency_s = f["latency_s"].get<double>();
    fit.bus_bandwidth = f["bus_bandwidth"].get<double>();
    DT_USAGE(std::isfinite(fit.latency_s) && fit.latency_s >= 0,
             "hardware profile {}: {}.latency_s is {}: it must be at least 0", where, field, fit.latency_s);
    DT_USAGE(std::isfinite(fit.bus_bandwidth) && fit.bus_bandwidth > 0,
             "hardware profile {}: {}.bus_bandwidth is {}: it must be above 0", where, field, fit.bus_bandwidth);
    check_source(f.value("source", nlohmann::json()), where, field);
    fit.source = f["source"];
    fit.points = f.value("points", nlohmann::json::array());
    fit.residual_rms = f.value("residual_rms", 0.0);
    fit.residual_max = f.value("residual_max", 0.0);
    out[*c] = fit;
  }
  return out;
}

Level parse_level(const nlohmann::json& j, const std::string& where, const std::string& path) {
  Level l;
  l.link_bandwidth = figure(j, "link_bandwidth", where, path);
  l.collectives = parse_fits(object_at(j, "collectives", where, path), where, path + ".collectives");
  if (j.contains("by_ranks_per_node"))
    for (const auto& [n, fits] : j["by_ranks_per_node"].items()) {
      const std::string field = fmt::format("{}.by_ranks_per_node.{}", path, n);
      int64_t ranks = 0;
      DT_USAGE(read_integer(n, 1, int64_t{1} << 20, ranks).empty() && fits.is_object(),
               "hardware profile {}: {}: keys are ranks per node, values their fits", where, field);
      l.by_ranks_per_node[ranks] = parse_fits(fits, where, field);
    }
  return l;
}

GemmCurve parse_gemm_curve(const nlohmann::json& j, const std::string& where) {
  const char* field = "device.gemm_flops_by_size";
  DT_USAGE(j.is_object() && (j.value("dtype", "") == "bf16" || j.value("dtype", "") == "fp32") &&
               j.contains("points") && j["points"].is_array() && j["points"].size() >= 2 && j.contains("source") &&
               j["source"].is_object(),
           "hardware profile {}: {} needs dtype (bf16 or fp32), two or more points and a source", where, field);
  std::vector<GemmPoint> points;
  for (const auto& pt : j["points"]) {
    const double n = pt.value("size", 0.0), v = pt.value("value", 0.0);
    DT_USAGE(std::isfinite(n) && std::isfinite(v) && n > 0 && v > 0 && (points.empty() || n > points.back().size),
             "hardware profile {}: {}.points: sizes ascending, sizes and values above zero", where, field);
    points.push_back({n, v});
  }
  return GemmCurve{j["dtype"].get<std::string>(), points, j["source"]};
}

nlohmann::json figure_json(const std::optional<Figure>& f, const char* unit) {
  if (!f) return nullptr;
  return {{"value", f->value}, {"unit", unit}, {"source", f->source}};
}

nlohmann::json gemm_curve_json(const std::optional<GemmCurve>& g) {
  if (!g) return nullptr;
  nlohmann::json pts = nlohmann::json::array();
  for (const auto& pt : g->points) pts.push_back({{"size", pt.size}, {"value", pt.flops}});
  return {{"dtype", g->dtype}, {"unit", "FLOP/s of an n x n x n GEMM"}, {"points", pts}, {"source", g->source}};
}

nlohmann::json fits_json(const std::map<Coll, CollectiveFit>& fits) {
  nlohmann::json colls = nlohmann::json::object();
  for (const auto& [c, fit] : fits) colls[coll_name(c)] = to_json(fit);
  return colls;
}

nlohmann::json level_json(const Level& l) {
  nlohmann::json j = {{"link_bandwidth", figure_json(l.link_bandwidth, "bytes/s per direction")},
                      {"collectives", fits_json(l.collectives)}};
  for (const auto& [n, fits] : l.by_ranks_per_node) j["by_ranks_per_node"][std::to_string(n)] = fits_json(fits);
  return j;
}

}  // namespace

double GemmCurve::rate(double m, double n, double k) const {
  const double size = std::cbrt(m * n * k);
  if (size <= points.front().size) return points.front().flops;
  if (size >= points.back().size) return points.back().flops;
  std::size_t i = 1;
  while (points[i].size < size) ++i;
  const GemmPoint &a = points[i - 1], &b = points[i];
  const double t = std::log(size / a.size) / std::log(b.size / a.size);
  return std::exp(std::log(a.flops) + t * std::log(b.flops / a.flops));
}

const char* coll_name(Coll c) {
  switch (c) {
    case Coll::kAllReduce:
      return "all_reduce";
    case Coll::kAllGather:
      return "all_gather";
    case Coll::kReduceScatter:
      return "reduce_scatter";
    case Coll::kAllToAll:
      return "all_to_all";
    case Coll::kSendRecv:
      return "send_recv";
  }
  return "?";
}

std::optional<Coll> coll_from_name(const std::string& name) {
  for (Coll c : kColls)
    if (name == coll_name(c)) return c;
  return std::nullopt;
}

HwProfile parse_hw_profile(const nlohmann::json& j, const std::string& where) {
  DT_USAGE(j.is_object() && j.value("schema", "") == kHwProfileSchema, "hardware profile {}: schema must be \"{}\"",
           where, kHwProfileSchema);
  HwProfile p;
  p.raw = j;
  DT_USAGE(j.contains("name") && j["name"].is_string() && !j["name"].get<std::string>().empty(),
           "hardware profile {}: name is missing", where);
  p.name = j["name"];
  p.description = j.value("description", "");
  p.kind = j.value("kind", "");
  DT_USAGE(p.kind == "gpu" || p.kind == "cpu", "hardware profile {}: kind must be \"gpu\" or \"cpu\"", where);
  if (j.contains("host") && !j["host"].is_null()) {
    const auto& h = j["host"];
    HostIdentity id;
    DT_USAGE(h.is_object() && h.contains("hostnames") && h["hostnames"].is_array() && h.contains("cores") &&
                 h["cores"].is_number_integer(),
             "hardware profile {}: host needs hostnames, cpu_model, cores and gpu_model", where);
    id.hostnames = h["hostnames"].get<std::vector<std::string>>();
    id.cpu_model = h.value("cpu_model", "");
    id.gpu_model = h.value("gpu_model", "");
    id.cores = h["cores"];
    p.host = id;
  }
  const auto& dev = object_at(j, "device", where, "");
  const auto per_node = figure(dev, "per_node", where, "device");
  DT_USAGE(per_node && per_node->value == std::floor(per_node->value),
           "hardware profile {}: device.per_node must be a whole number with a source", where);
  p.devices_per_node = static_cast<int64_t>(per_node->value);
  const auto& gemm = object_at(dev, "gemm_flops", where, "device");
  p.gemm_bf16 = figure(gemm, "bf16", where, "device.gemm_flops");
  p.gemm_fp32 = figure(gemm, "fp32", where, "device.gemm_flops");
  if (dev.contains("gemm_flops_by_size") && !dev["gemm_flops_by_size"].is_null())
    p.gemm_by_size = parse_gemm_curve(dev["gemm_flops_by_size"], where);
  p.mem_bandwidth = figure(dev, "mem_bandwidth", where, "device");
  p.mem_capacity = figure(dev, "mem_capacity", where, "device");
  const auto& eff = object_at(j, "efficiency", where, "");
  p.gemm_efficiency = figure(eff, "gemm", where, "efficiency");
  p.elementwise_efficiency = figure(eff, "elementwise", where, "efficiency");
  p.optimizer_efficiency = figure(eff, "optimizer", where, "efficiency");
  p.runtime_bytes = figure(eff, "runtime_bytes", where, "efficiency", 0, /*inclusive=*/true);
  p.overlap_cost = figure(eff, "overlap_cost", where, "efficiency", 0, /*inclusive=*/true);
  const auto& levels = object_at(j, "levels", where, "");
  p.intra_node = parse_level(object_at(levels, "intra_node", where, "levels"), where, "levels.intra_node");
  p.inter_node = parse_level(object_at(levels, "inter_node", where, "levels"), where, "levels.inter_node");
  return p;
}

std::vector<std::string> shipped_profile_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(profile_dir(), ec))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

HwProfile load_hw_profile(const std::string& name_or_path) {
  std::string path = name_or_path;
  if (!std::filesystem::is_regular_file(path)) {
    const auto names = shipped_profile_names();
    DT_USAGE(std::find(names.begin(), names.end(), name_or_path) != names.end(),
             "hardware profile {}: no such file and no shipped profile of that name (shipped: {}; a file made by "
             "planner --calibrate works too)",
             name_or_path, fmt::join(names, ", "));
    path = profile_dir() + "/" + name_or_path + ".json";
  }
  std::ifstream in(path);
  DT_USAGE(in.good(), "hardware profile {}: cannot be read", path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(fmt::format("hardware profile {}: not JSON ({})", path, e.what()));
  }
  return parse_hw_profile(j, path);
}

nlohmann::json to_json(const CollectiveFit& f) {
  return {{"latency_s", f.latency_s}, {"bus_bandwidth", f.bus_bandwidth}, {"source", f.source},
          {"points", f.points},       {"residual_rms", f.residual_rms},   {"residual_max", f.residual_max}};
}

nlohmann::json to_json(const HwProfile& p) {
  nlohmann::json host = nullptr;
  if (p.host)
    host = {{"hostnames", p.host->hostnames},
            {"cpu_model", p.host->cpu_model},
            {"cores", p.host->cores},
            {"gpu_model", p.host->gpu_model}};
  const nlohmann::json calibrated_count = {{"calibrated", "the device count of the records' hosts"}};
  nlohmann::json per_node = {{"value", p.devices_per_node}, {"unit", p.kind == "cpu" ? "cores" : "GPUs"}};
  per_node["source"] = p.raw.contains("device") && p.raw["device"].contains("per_node")
                           ? p.raw["device"]["per_node"]["source"]
                           : calibrated_count;
  return {
      {"schema", kHwProfileSchema},
      {"name", p.name},
      {"description", p.description},
      {"kind", p.kind},
      {"host", host},
      {"device",
       {{"per_node", per_node},
        {"gemm_flops", {{"bf16", figure_json(p.gemm_bf16, "FLOP/s")}, {"fp32", figure_json(p.gemm_fp32, "FLOP/s")}}},
        {"gemm_flops_by_size", gemm_curve_json(p.gemm_by_size)},
        {"mem_bandwidth", figure_json(p.mem_bandwidth, "bytes/s")},
        {"mem_capacity", figure_json(p.mem_capacity, "bytes")}}},
      {"efficiency",
       {{"gemm", figure_json(p.gemm_efficiency, "share of gemm_flops")},
        {"elementwise", figure_json(p.elementwise_efficiency, "share of mem_bandwidth")},
        {"optimizer", figure_json(p.optimizer_efficiency, "share of mem_bandwidth")},
        {"runtime_bytes", figure_json(p.runtime_bytes, "bytes")},
        {"overlap_cost", figure_json(p.overlap_cost, "compute seconds per overlapped communication second")}}},
      {"levels", {{"intra_node", level_json(p.intra_node)}, {"inter_node", level_json(p.inter_node)}}}};
}

}  // namespace dtbench
