// Hardware profiles (schema dtbench.hw_profile/v1, profiles/README.md): what the step-time
// predictor knows about a machine. Per device: GEMM FLOP/s by dtype, memory bandwidth and
// capacity; per level (inside a node, between nodes): a latency-bandwidth fit per collective
// and the link rate. Every figure carries its source: a URL with the quoted sentence or table
// row, or the records it was calibrated from; a figure nobody sourced is null, never a guess.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dtbench {

inline constexpr const char* kHwProfileSchema = "dtbench.hw_profile/v1";

// A figure and where it comes from (the JSON keeps url + quote, or calibrated).
struct Figure {
  double value = 0;
  nlohmann::json source;
};

// Collectives the predictor costs.
enum class Coll { kAllReduce, kAllGather, kReduceScatter, kAllToAll, kSendRecv };
const char* coll_name(Coll c);
std::optional<Coll> coll_from_name(const std::string& name);

// t(bytes, n) = latency_s * hops(n) + bytes * bus_factor(n) / bus_bandwidth: the ring model
// nccl-tests' busbw is defined by, so one fit serves every group size. Points and residuals
// are kept when it was fitted.
struct CollectiveFit {
  double latency_s = 0;                             // per hop
  double bus_bandwidth = 0;                         // bytes/s
  nlohmann::json source;                            // url + quote of the rows, or calibrated
  nlohmann::json points = nlohmann::json::array();  // {bytes, ranks, time_s, fitted_s}
  double residual_rms = 0, residual_max = 0;        // relative
};

struct Level {
  std::optional<Figure> link_bandwidth;  // bytes/s per direction, the bound without a fit
  std::map<Coll, CollectiveFit> collectives;
  // Fits of the points measured with N ranks on each node, for jobs with N ranks a node: where
  // ranks share cores (CPU), a collective's speed depends on how many there are.
  std::map<int64_t, std::map<Coll, CollectiveFit>> by_ranks_per_node;
};

// A device's GEMM rate by size, measured (env_check --sweep-gemm-sizes): FLOP/s of an
// n x n x n GEMM at each n, ascending. An m x n x k GEMM runs at the rate of the size
// cbrt(m n k), interpolated on log scales, the ends held.
struct GemmPoint {
  double size = 0, flops = 0;  // n, FLOP/s
  bool operator==(const GemmPoint& o) const { return size == o.size && flops == o.flops; }
};
struct GemmCurve {
  std::string dtype;  // "bf16" | "fp32"
  std::vector<GemmPoint> points;
  nlohmann::json source;
  double rate(double m, double n, double k) const;
};

struct HostIdentity {
  std::vector<std::string> hostnames;
  std::string cpu_model, gpu_model;
  int64_t cores = 0;
};

struct HwProfile {
  std::string name, description;
  std::string kind;                  // "gpu" | "cpu" (a CPU device is one core)
  std::optional<HostIdentity> host;  // calibrated profiles: the machine they describe
  int64_t devices_per_node = 0;      // GPUs, or cores
  std::optional<Figure> gemm_bf16, gemm_fp32, mem_bandwidth, mem_capacity;  // per device
  std::optional<GemmCurve> gemm_by_size;  // per device; null: gemm_bf16/fp32 at every size
  // Shares of the datasheet rates the code achieves (calibrated; null: the rate itself, so the
  // prediction is a bound), and the memory a process holds besides the model (CPU: libtorch).
  std::optional<Figure> gemm_efficiency, elementwise_efficiency, optimizer_efficiency, runtime_bytes;
  // Seconds of compute lost per second of FSDP communication overlapped with it (CPU ranks
  // share their cores with MPI's copies and FSDP's per-unit work; null: 0).
  std::optional<Figure> overlap_cost;
  Level intra_node, inter_node;
  nlohmann::json raw = nlohmann::json::object();  // the file as read, written back by to_json
};

// Reads and checks a profile (UsageError, one line naming the profile and the field): the
// schema, every figure present with a source and a finite value above zero (efficiencies
// above zero, runtime_bytes zero or more), fits with positive bandwidth.
HwProfile parse_hw_profile(const nlohmann::json& j, const std::string& where);

// `name_or_path`: a file, or the name of a shipped profile (profiles/<name>.json under
// DTBENCH_PROFILE_DIR, else the source tree's). UsageError listing the shipped ones otherwise.
HwProfile load_hw_profile(const std::string& name_or_path);
std::vector<std::string> shipped_profile_names();

nlohmann::json to_json(const HwProfile& p);
nlohmann::json to_json(const CollectiveFit& f);

}  // namespace dtbench
