#include "core/predict/calibrate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include "core/predict/collective_cost.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {

nlohmann::json read_record(const std::string& file) {
  std::ifstream in(file);
  DT_USAGE(in.good(), "planner --calibrate: {} cannot be read", file);
  nlohmann::json r;
  try {
    r = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    throw UsageError(fmt::format("planner --calibrate: {} is not JSON (give dtbench result records)", file));
  }
  DT_USAGE(r.is_object() && r.value("schema", "") == "dtbench.result/v1",
           "planner --calibrate: {} is not a dtbench.result/v1 record", file);
  DT_USAGE(r.value("status", "") == "ok", "planner --calibrate: {} is a failed run's record: measure again", file);
  return r;
}

std::string describe_host(const HostIdentity& h) {
  return fmt::format("{} ({}, {} cores{})", fmt::join(h.hostnames, ","), h.cpu_model, h.cores,
                     h.gpu_model.empty() ? "" : ", " + h.gpu_model);
}

bool same_kind(const HostIdentity& a, const HostIdentity& b) {
  return a.cpu_model == b.cpu_model && a.cores == b.cores && a.gpu_model == b.gpu_model;
}

int64_t flag_int(const nlohmann::json& cfg, const char* key, int64_t fallback) {
  if (!cfg.contains(key)) return fallback;
  const auto& v = cfg[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string() && !v.get<std::string>().empty()) return std::stoll(v.get<std::string>());
  return fallback;
}

bool flag_bool(const nlohmann::json& cfg, const char* key) {
  if (!cfg.contains(key)) return false;
  return cfg[key].is_boolean() ? cfg[key].get<bool>() : cfg[key] == "true";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Least squares of the relative error, minimise sum_i (sum_j x_j a_ij / t_i - 1)^2 with each
// x_j in [lo_j, hi_j], by coordinate descent (four unknowns, positive terms: it settles fast).
std::vector<double> fit_coefficients(const std::vector<std::vector<double>>& a, const std::vector<double>& t,
                                     std::vector<double> x, const std::vector<double>& lo,
                                     const std::vector<double>& hi) {
  const std::size_t k = x.size();
  for (int it = 0; it < 2000; ++it)
    for (std::size_t j = 0; j < k; ++j) {
      double num = 0, den = 0;
      for (std::size_t i = 0; i < a.size(); ++i) {
        double rest = 0;
        for (std::size_t q = 0; q < k; ++q)
          if (q != j) rest += x[q] * a[i][q];
        const double aj = a[i][j] / t[i];
        num += aj * (1 - rest / t[i]);
        den += aj * aj;
      }
      if (den > 0) x[j] = std::clamp(num / den, lo[j], hi[j]);
    }
  return x;
}

}  // namespace

HostIdentity record_host(const nlohmann::json& r, const std::string& file) {
  DT_USAGE(r.contains("system") && r["system"].contains("cpu") && r["system"].contains("hosts"),
           "planner --calibrate: {} names no host (system.hosts, system.cpu)", file);
  const auto& s = r["system"];
  HostIdentity h;
  for (const auto& x : s["hosts"]) h.hostnames.push_back(x.get<std::string>());
  std::sort(h.hostnames.begin(), h.hostnames.end());
  h.cpu_model = s["cpu"].value("model", "");
  h.cores = s["cpu"].value("cores", int64_t{0});
  if (s.contains("gpu") && s["gpu"].is_object()) h.gpu_model = s["gpu"].value("name", "");
  return h;
}

TrainingRun read_training_run(const nlohmann::json& r, const std::string& file) {
  const auto& cfg = r["config"];
  DT_USAGE(cfg.contains("model_config") && cfg["model_config"].contains("layout"),
           "planner --calibrate: {} is not a training record of a transformer (no config.model_config.layout)", file);
  TrainingRun run;
  run.file = file;
  ModelConfig m = find_model(cfg["model_config"].value("model", ""));
  m.hidden = flag_int(cfg, "hidden", m.hidden);
  m.layers = flag_int(cfg, "layers", m.layers);
  m.heads = flag_int(cfg, "heads", m.heads);
  m.kv_heads = flag_int(cfg, "kv-heads", m.kv_heads);
  m.ffn = flag_int(cfg, "ffn", m.ffn);
  m.vocab = flag_int(cfg, "vocab", m.vocab);
  m.experts = flag_int(cfg, "experts", m.experts);
  m.top_k = flag_int(cfg, "top-k", m.top_k);
  run.model = m;
  const auto& l = cfg["model_config"]["layout"];
  ParallelLayout& p = run.layout;
  p.dp = l.value("dp", int64_t{1});
  p.tp = l.value("tp", int64_t{1});
  p.pp = l.value("pp", int64_t{1});
  p.ep = l.value("ep", int64_t{1});
  p.shard_params = l.value("sharded", false);
  p.micro_batch = l.value("micro_batch", int64_t{1});
  p.seq = l.value("seq", m.seq);
  p.activation_checkpointing = l.value("activation_checkpointing", false);
  p.bf16 = l.value("dtype", "fp32") == "bf16";
  p.sp = l.value("sp", flag_bool(cfg, "sp"));
  p.vp = l.value("vp", flag_int(cfg, "vp", 1));
  p.shard_group = l.value("shard_group", int64_t{0});
  const int64_t global = flag_int(cfg, "global-batch", p.micro_batch * p.dp);
  p.accumulation = l.value("accumulation", global / (p.micro_batch * p.dp));
  const auto& launch = r["launch"];
  run.cluster.nodes = launch.value("nodes", int64_t{1});
  run.cluster.ranks_per_node = launch.value("world_size", int64_t{1}) / run.cluster.nodes;
  DT_USAGE(r.contains("metrics") && r["metrics"].contains("step_time_s"),
           "planner --calibrate: {} has no measured steps (metrics.step_time_s)", file);
  run.step_s = r["metrics"]["step_time_s"]["median"].get<double>();
  run.peak_mem_bytes = r["metrics"].value("peak_mem_bytes", int64_t{0});
  return run;
}

HwProfile calibrate_profile(const std::vector<std::string>& files, const std::string& name,
                            const std::optional<HwProfile>& base, int64_t cores_per_node) {
  DT_USAGE(!files.empty(), "planner --calibrate: give the records (collectives_perf, env_check --sweep, training)");
  DT_USAGE(!base || base->host.has_value(),
           "planner --calibrate --profile {}: a shipped profile describes no measured host; calibrate without "
           "--profile to make this machine's own",
           base ? base->name : "");
  std::vector<std::pair<std::string, nlohmann::json>> records;
  for (const auto& f : files) records.emplace_back(f, read_record(f));

  // One kind of host: the first record's, or the profile's being refined.
  std::optional<HostIdentity> host = base ? base->host : std::nullopt;
  std::set<std::string> names =
      host ? std::set<std::string>(host->hostnames.begin(), host->hostnames.end()) : std::set<std::string>();
  std::string backend;
  int64_t local_ranks = 1, usable = 0;
  for (const auto& [file, r] : records) {
    const HostIdentity h = record_host(r, file);
    // A node's cores are those its processes may use (an affinity mask: a Slurm binding, a
    // cpuset, a virtual node), not the machine's.
    const int64_t u = r["system"]["cpu"].value("usable", h.cores);
    if (u > 0) usable = usable == 0 ? u : std::min(usable, u);
    if (r.contains("launch")) local_ranks = std::max(local_ranks, r["launch"].value("local_world_size", int64_t{1}));
    if (!host) host = h;
    DT_USAGE(same_kind(h, *host),
             "planner --calibrate: {} was measured on {}, not on {}: calibrate each machine from its own records", file,
             describe_host(h), describe_host(*host));
    for (const auto& n : h.hostnames) {
      DT_USAGE(!base || names.count(n),
               "planner --calibrate: {} was measured on host {}, which profile {} does not "
               "describe ({}): calibrate a new profile for it",
               file, n, base->name, describe_host(*base->host));
      names.insert(n);
    }
    const std::string b = r.contains("launch") ? r["launch"].value("backend", "") : "";
    if (r.value("benchmark", "") != "env_check" && !b.empty()) {
      if (backend.empty()) backend = b;
      DT_USAGE(b == backend, "planner --calibrate: {} ran on the {} backend, the others on {}: one backend per profile",
               file, b, backend);
    }
  }
  host->hostnames.assign(names.begin(), names.end());

  HwProfile p = base ? *base : HwProfile{};
  p.name = name;
  p.kind = host->gpu_model.empty() ? "cpu" : "gpu";
  p.host = host;
  if (!base) {
    p.description = fmt::format("calibrated on {} ({} backend) by planner --calibrate", describe_host(*host),
                                backend.empty() ? "no" : backend);
    p.devices_per_node = p.kind == "cpu" ? (usable > 0 ? usable : host->cores) : local_ranks;  // GPUs: one rank each
  }
  DT_USAGE(cores_per_node == 0 || (cores_per_node >= 1 && p.kind == "cpu" && cores_per_node <= host->cores),
           "--cores-per-node {}: for CPU records, at least 1 and at most the {} cores they count", cores_per_node,
           host->cores);
  if (cores_per_node > 0) p.devices_per_node = cores_per_node;
  const double cores = static_cast<double>(p.devices_per_node);

  // env_check --sweep: the GEMM and memory probe (per node; a CPU device is one core).
  for (const auto& [file, r] : records) {
    if (r.value("benchmark", "") != "env_check") continue;
    DT_USAGE(r.contains("sweep") && r["sweep"].contains("median"),
             "planner --calibrate: {} is an env_check record without --sweep (the GEMM and memory probe)", file);
    const auto& med = r["sweep"]["median"];
    const double per = p.kind == "cpu" ? cores : 1.0;
    const double gemm = med["gemm_gflops"].get<double>() * 1e9 / per, mem = med["mem_gbps"].get<double>() * 1e9 / per;
    DT_USAGE(gemm > 0 && mem > 0, "planner --calibrate: {} measured no GEMM or memory rate", file);
    const nlohmann::json src = {
        {"calibrated", fmt::format("env_check --sweep {}: {:.2f} GFLOP/s and {:.2f} GB/s per node", file,
                                   med["gemm_gflops"].get<double>(), med["mem_gbps"].get<double>())}};
    (p.kind == "cpu" ? p.gemm_fp32 : p.gemm_bf16) = Figure{gemm, src};
    p.mem_bandwidth = Figure{mem, src};
    // The rate by size (--sweep-gemm-sizes; a GPU's by default), in the probe's dtype.
    if (med.contains("gemm_gflops_by_size") && med["gemm_gflops_by_size"].size() >= 2) {
      std::vector<GemmPoint> points;
      for (const auto& pt : med["gemm_gflops_by_size"])
        points.push_back({pt["size"].get<double>(), pt["gflops"].get<double>() * 1e9 / per});
      p.gemm_by_size =
          GemmCurve{p.kind == "cpu" ? "fp32" : "bf16",
                    points,
                    {{"calibrated", fmt::format("env_check --sweep {}: the median node's GEMM rate by size", file)}}};
    }
  }

  // collectives_perf: a fit per collective and level.
  std::map<std::pair<Coll, bool>, std::vector<CostPoint>> points;
  std::map<std::pair<Coll, bool>, std::vector<std::string>> point_files;
  std::map<std::tuple<Coll, bool, int64_t>, std::vector<CostPoint>> points_at;  // by ranks per node
  for (const auto& [file, r] : records) {
    if (r.value("benchmark", "") != "collectives_perf") continue;
    const std::string op = r["config"].value("op", "");
    const auto coll = coll_from_name(op == "sendrecv" ? "send_recv" : op);
    if (!coll) continue;  // broadcast, reduce, all_to_allv: not costed
    const bool inter = r["launch"].value("nodes", 1) > 1;
    const int64_t ranks = r["launch"].value("world_size", int64_t{1});
    const int64_t per_node = r["launch"].value("local_world_size", ranks);
    for (const auto& row : r["rows"]) {
      const double t = row["out_of_place"]["time_us"].get<double>() * 1e-6;
      if (t <= 0) continue;
      points[{*coll, inter}].push_back({row["size_bytes"].get<double>(), ranks, t});
      points_at[{*coll, inter, per_node}].push_back({row["size_bytes"].get<double>(), ranks, t});
    }
    point_files[{*coll, inter}].push_back(file);
  }
  for (auto& [key, pts] : points) {
    Level& level = key.second ? p.inter_node : p.intra_node;
    const nlohmann::json src = {{"calibrated", fmt::format("collectives_perf {}", fmt::join(point_files[key], " "))}};
    level.collectives[key.first] = fit_collective(key.first, pts, src);
    // With records at several ranks per node, also one fit per count (see Level).
    for (auto& [at, some] : points_at)
      if (std::get<0>(at) == key.first && std::get<1>(at) == key.second && some.size() < pts.size() && some.size() >= 2)
        level.by_ranks_per_node[std::get<2>(at)][key.first] = fit_collective(key.first, some, src);
  }

  // Training records: the achieved shares of the rates, refitted until the overlap they
  // change settles, and the memory besides the model.
  std::vector<TrainingRun> runs;
  for (const auto& [file, r] : records)
    if (r["config"].contains("model_config") && r["config"]["model_config"].contains("layout"))
      runs.push_back(read_training_run(r, file));
  if (!runs.empty()) {
    DT_USAGE(runs.size() >= 4,
             "planner --calibrate: {} training record(s): at least 4 (different layouts) are needed "
             "to fit the GEMM, elementwise and optimizer shares and the cost of overlapped communication",
             runs.size());
    DT_USAGE((p.gemm_fp32 || p.gemm_bf16) && p.mem_bandwidth,
             "planner --calibrate: training records need the device rates first: add an env_check --sweep record");
    // measured = gemm/x + elementwise/y + optimizer/z + w * overlapped comm + the rest (waits,
    // bubble): x, y, z the shares of the device rates achieved, w the
    // compute lost per overlapped communication second (0..3). The overlap and the bubble
    // move with them, so the fit is repeated on the new prediction until it settles.
    std::vector<double> share = {p.gemm_efficiency ? p.gemm_efficiency->value : 1.0,
                                 p.elementwise_efficiency ? p.elementwise_efficiency->value : 1.0,
                                 p.optimizer_efficiency ? p.optimizer_efficiency->value : 1.0};
    double overlap = p.overlap_cost ? p.overlap_cost->value : 0.0;
    auto set = [&](const nlohmann::json& src) {
      p.gemm_efficiency = Figure{share[0], src};
      p.elementwise_efficiency = Figure{share[1], src};
      p.optimizer_efficiency = Figure{share[2], src};
      p.overlap_cost = Figure{overlap, src};
    };
    for (int round = 0; round < 8; ++round) {
      set(nullptr);
      std::vector<std::vector<double>> a;
      std::vector<double> t;
      for (const auto& run : runs) {
        const Prediction pr = predict_step(run.model, run.layout, run.cluster, p);
        const double rest = pr.step_s - pr.gemm_s - pr.elementwise_s - pr.optimizer_s - pr.overlap_s;
        a.push_back({pr.gemm_s, pr.elementwise_s, pr.optimizer_s, pr.hidden_comm_s});
        t.push_back(std::max(1e-9, run.step_s - rest));
      }
      // Coefficients on the current terms: 1 keeps a share, w replaces the overlap cost. A
      // share stays within 0.01..2 of the probe's rate: beyond, the records do not tell the
      // terms apart and the fit would trade one for another.
      std::vector<double> lo(4), hi(4);
      for (std::size_t j = 0; j < 3; ++j) lo[j] = share[j] / 2, hi[j] = share[j] / 0.01;
      lo[3] = 0, hi[3] = 3;
      const auto x = fit_coefficients(a, t, {1, 1, 1, overlap}, lo, hi);
      for (std::size_t j = 0; j < 3; ++j) share[j] /= x[j];
      overlap = x[3];
    }
    std::vector<double> extra;
    nlohmann::json fitted = nlohmann::json::array();
    set(nullptr);
    for (const auto& run : runs) {
      const Prediction pr = predict_step(run.model, run.layout, run.cluster, p);
      fitted.push_back({{"file", run.file}, {"measured_step_s", run.step_s}, {"fitted_step_s", pr.step_s}});
      if (run.peak_mem_bytes > 0) extra.push_back(static_cast<double>(run.peak_mem_bytes - pr.memory.total()));
    }
    const nlohmann::json src = {{"calibrated", "training records: measured step times against predicted"},
                                {"runs", fitted}};
    set(src);
    if (!extra.empty())
      p.runtime_bytes = Figure{std::max(0.0, median(extra)),
                               {{"calibrated", "training records: median of measured peak memory less the model's"}}};
  }
  nlohmann::json raw = to_json(p);
  return parse_hw_profile(raw, name);  // what a file of it will read back as, checked
}

}  // namespace dtbench
