#include "core/predict/step_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/model/gemms.h"
#include "core/model/plan.h"
#include "core/parallel/pipeline/schedule.h"
#include "core/predict/collective_cost.h"
#include "core/predict/gemm_rate.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {

// A stream of communication that runs its ops in issue order (a communicator's op thread, a
// NCCL stream): an op starts when it is issued and the one before it is done.
struct CommStream {
  double free_at = 0;
  double run(double issued, double seconds) {
    free_at = std::max(issued, free_at) + seconds;
    return free_at;
  }
};

// One unit of the model as a rank runs it: compute (critical-path collectives included) and
// the bytes its sharded or replicated parameters move.
struct Unit {
  double fwd_s = 0, bwd_s = 0;
  double dense_bytes = 0, expert_bytes = 0;  // parameters, one byte width (set by the caller)
};

class Predictor {
 public:
  Predictor(const ModelConfig& c, const ParallelLayout& l, const Cluster& cl, const HwProfile& p)
      : c_(c), l_(l), cl_(cl), p_(p) {}

  Prediction run();

 private:
  // The level a group of ranks spanning `span` consecutive ranks runs on.
  std::string level_of(int64_t span) const { return span <= cl_.ranks_per_node ? "intra_node" : "inter_node"; }
  // Seconds of one call among `ranks` ranks spanning `span` consecutive ranks, and its term in
  // the prediction (`calls` of it added). Between nodes without a fit the bound is the nodes'
  // links: a ring over the group's nodes moves bus_factor(nodes) x bytes through each.
  // Between nodes, the groups of one node that run the same call at once share its links: a
  // group with every `stride`-th rank has min(stride, ranks per node) of them (tensor parallel
  // 8 inside a p5: eight data-parallel groups on its NICs), so each gets that share of the
  // bandwidth that one group of the fit had. That fit is the one measured with as many of the
  // group's own ranks on a node (one, for such a strided group): a fit measured with more
  // ranks of one group a node is another traffic pattern (one ring through the node).
  double cost(const std::string& what, Coll coll, double bytes, int64_t ranks, int64_t span, int64_t calls = 1) {
    if (ranks <= 1 || bytes <= 0) return 0;
    const std::string level = level_of(span);
    const int64_t nodes_spanned = (span + cl_.ranks_per_node - 1) / cl_.ranks_per_node;
    const int64_t fit_ranks_per_node =
        level == "intra_node" ? cl_.ranks_per_node : std::max<int64_t>(1, ranks / nodes_spanned);
    const ChosenFit f =
        choose_fit(level == "intra_node" ? p_.intra_node : p_.inter_node, coll, fit_ranks_per_node, level, p_.name);
    if (f.rule != "fitted")
      note(fmt::format("{} {} on {}: no fit of its own, {}", what, coll_name(coll), level, f.rule));
    const double sharing = level == "inter_node"
                               ? static_cast<double>(std::min(std::max<int64_t>(1, span / ranks), cl_.ranks_per_node))
                               : 1.0;
    double s = collective_seconds(f.fit, coll, bytes * sharing, ranks);
    if (f.rule == "link bound" && level == "inter_node")
      s = sharing * bytes * bus_factor(coll, std::max<int64_t>(nodes_spanned, 2)) / f.fit.bus_bandwidth;
    CommTerm& t = term(what, coll, level, f.rule, ranks, bytes);
    t.one_s = s;
    t.one_bytes = bytes;
    t.bytes += bytes * static_cast<double>(calls);
    t.calls += calls;
    t.total_s += s * static_cast<double>(calls);
    return s;
  }
  CommTerm& term(const std::string& what, Coll coll, const std::string& level, const std::string& rule, int64_t ranks,
                 double bytes) {
    for (auto& t : out_.comm)
      if (t.what == what && t.coll == coll) return t;
    out_.comm.push_back({what, coll, level, rule, ranks, 0, 0, bytes, 0, 0, 0});
    return out_.comm.back();
  }
  void expose(const std::string& what, Coll coll, double seconds) {
    for (auto& t : out_.comm)
      if (t.what == what && t.coll == coll) t.exposed_s += seconds;
  }
  void note(const std::string& s) {
    if (std::find(out_.assumptions.begin(), out_.assumptions.end(), s) == out_.assumptions.end())
      out_.assumptions.push_back(s);
  }
  double figure_or(const std::optional<Figure>& f, double fallback, const std::string& what) {
    if (f) return f->value;
    note(what);
    return fallback;
  }

  void validate() const;
  void rates(double active);
  void step();
  std::vector<Unit> units(int64_t stage);
  double fsdp_micro_step(const std::vector<Unit>& u);
  double ddp_backward_tail(const std::vector<Unit>& u);

  const ModelConfig& c_;
  const ParallelLayout& l_;
  const Cluster& cl_;
  const HwProfile& p_;
  Prediction out_;
  std::vector<double> stage_gemm_, stage_elem_;  // per micro-batch
  double gemm_rate_ = 0, mem_rate_ = 0, opt_rate_ = 0, width_ = 4, overlap_cost_ = 0;
  double gemm_scale_ = 1;             // the shares gemm_rate_ applies to the device's rate
  const GemmCurve* curve_ = nullptr;  // the profile's rate by size, for this dtype
};

void Predictor::validate() const {
  validate_layout(c_, l_);
  const int64_t world = l_.dp * l_.tp * l_.pp;
  DT_USAGE(cl_.nodes >= 1 && cl_.ranks_per_node >= 1 && world == cl_.nodes * cl_.ranks_per_node,
           "layout dp {} x tp {} x pp {} = {} ranks, but {} node(s) x {} ranks per node = {}: make them equal", l_.dp,
           l_.tp, l_.pp, world, cl_.nodes, cl_.ranks_per_node, cl_.nodes * cl_.ranks_per_node);
  DT_USAGE(p_.kind == "cpu" || cl_.ranks_per_node <= p_.devices_per_node,
           "{} ranks on each of {} node(s), but a {} node has {} devices: give --nodes {}", cl_.ranks_per_node,
           cl_.nodes, p_.name, p_.devices_per_node, (world + p_.devices_per_node - 1) / p_.devices_per_node);
  DT_USAGE(!l_.shard_params || (l_.tp == 1 && l_.pp == 1),
           "--fsdp with --tp/--pp: dtbench's FSDP is one-dimensional (fsdp_llama); tensor and pipeline layouts run "
           "data-parallel replicas (megatron_gpt)");
  DT_USAGE(l_.shard_group == 0 || (l_.shard_params && l_.dp % l_.shard_group == 0),
           "--hsdp-shard-size {}: needs --fsdp and must divide dp {}", l_.shard_group, l_.dp);
  DT_USAGE(!l_.sp || l_.tp > 1, "--sp: sequence parallelism needs --tp above 1");
  DT_USAGE(l_.vp >= 1 && (l_.vp == 1 || l_.pp > 1), "--vp {}: virtual stages need --pp above 1", l_.vp);
  DT_USAGE(c_.layers % (l_.pp * l_.vp) == 0, "--vp {}: pp x vp = {} must divide the {} layers of {}", l_.vp,
           l_.pp * l_.vp, c_.layers, c_.name);
  DT_USAGE(l_.accumulation >= 1, "the global batch must be a multiple of micro-batch x dp");
  DT_USAGE(l_.vp == 1 || l_.accumulation % l_.pp == 0,
           "--vp {}: the interleaved schedule needs micro-batches per step ({}) to be a multiple of pp {}", l_.vp,
           l_.accumulation, l_.pp);
}

// Per-rank rates. A GPU rank has its device. CPU ranks share the node's cores: each runs
// max(1, cores / ranks) threads (apply_threads) and gets at most its share of the cores busy
// at once; memory bandwidth is the node's, split among the ranks computing (`active`: fewer
// than all while pipeline stages wait in the bubble).
void Predictor::rates(double active) {
  const auto& gemm = l_.bf16 ? p_.gemm_bf16 : p_.gemm_fp32;
  DT_USAGE(gemm.has_value(),
           "hardware profile {}: no {} GEMM rate (device.gemm_flops.{} is null): use a profile that "
           "has one, or calibrate this machine (planner --calibrate)",
           p_.name, l_.bf16 ? "bf16" : "fp32", l_.bf16 ? "bf16" : "fp32");
  DT_USAGE(p_.mem_bandwidth.has_value(), "hardware profile {}: no memory bandwidth (device.mem_bandwidth is null)",
           p_.name);
  double gemm_share = 1, mem_share = 1;
  if (p_.kind == "cpu") {
    const double cores = static_cast<double>(p_.devices_per_node);
    const double threads = std::max(1.0, std::floor(cores / static_cast<double>(cl_.ranks_per_node)));
    gemm_share = std::min(threads, cores / active);
    mem_share = cores / active;
  }
  const double ge = figure_or(p_.gemm_efficiency, 1, "GEMMs at the datasheet rate (no calibrated efficiency)");
  const double ee = figure_or(p_.elementwise_efficiency, 1, "elementwise work at the datasheet memory bandwidth");
  const double oe = figure_or(p_.optimizer_efficiency, 1, "the optimizer at the datasheet memory bandwidth");
  overlap_cost_ = p_.overlap_cost ? p_.overlap_cost->value : 0.0;
  gemm_scale_ = gemm_share * ge;
  gemm_rate_ = gemm->value * gemm_scale_;
  curve_ = p_.gemm_by_size && p_.gemm_by_size->dtype == (l_.bf16 ? "bf16" : "fp32") ? &*p_.gemm_by_size : nullptr;
  mem_rate_ = p_.mem_bandwidth->value * mem_share * ee;
  opt_rate_ = p_.mem_bandwidth->value * mem_share * oe;
  width_ = l_.bf16 ? 2 : 4;
}

// The units of pipeline stage `stage`, in forward order: the root (embeddings) on the first
// stage, its blocks, the head on the last. Compute is forward + backward as 1 : 2 of the
// pinned FLOPs and of the activation traffic, with a forward more in backward under
// activation checkpointing; tensor- and expert-parallel collectives are added to it.
std::vector<Unit> Predictor::units(int64_t stage) {
  const double tokens = static_cast<double>(l_.micro_batch * l_.seq);
  const double h = static_cast<double>(c_.hidden), V = static_cast<double>(c_.vocab);
  const double tp = static_cast<double>(l_.tp);
  // The pinned FLOPs, GEMM by GEMM, each at the rate of its size.
  const std::vector<Gemm> block = block_gemms(c_, l_.micro_batch, l_.seq, l_.tp, l_.ep);
  const Gemm head_mm = head_gemm(c_, l_.micro_batch, l_.seq, l_.tp);
  const double block_flops = 3.0 * flops_of(block);
  const double head_flops = 3.0 * head_mm.flops();
  const double block_rate = gemm_set_rate(block, curve_, gemm_scale_, gemm_rate_);
  const double head_rate = gemm_set_rate({head_mm}, curve_, gemm_scale_, gemm_rate_);
  const double block_act = activation_bytes_per_layer(c_, l_);
  const double logits_act = 2.0 * tokens * V * 4.0 / tp;
  const double recompute = l_.activation_checkpointing ? 1.0 : 0.0;

  // Parameters per block: dense and expert parts (experts split over ep; all of it over tp).
  const double p_all = static_cast<double>(parameter_count(c_));
  const double p_experts = c_.moe() ? static_cast<double>(c_.layers * c_.experts * 3 * c_.hidden * c_.ffn) : 0.0;
  const double embed = static_cast<double>(c_.vocab * c_.hidden + (c_.rope ? 0 : c_.seq * c_.hidden));
  const double head = c_.tied_embeddings ? 0.0 : V * h;
  const double norm = c_.rmsnorm ? h : 2 * h;
  // Per rank: tensor parallelism splits every matrix (norms are a rounding error).
  const double block_dense = (p_all - p_experts - embed - head - norm) / static_cast<double>(c_.layers) / tp;
  const double block_expert = p_experts / static_cast<double>(c_.layers) / static_cast<double>(l_.ep) / tp;

  // Critical-path collectives of one block, one micro-batch: Megatron's two per direction
  // (all_reduce, or all_gather + reduce_scatter under sequence parallelism) and two more for a
  // recomputed forward; expert parallelism's dispatch and combine likewise.
  const double act_bytes = tokens * h * width_;
  double tp_one = 0;
  if (l_.sp)
    tp_one = cost("tensor parallel", Coll::kAllGather, act_bytes, l_.tp, l_.tp, 0) +
             cost("tensor parallel", Coll::kReduceScatter, act_bytes, l_.tp, l_.tp, 0);
  else
    tp_one = cost("tensor parallel", Coll::kAllReduce, act_bytes, l_.tp, l_.tp, 0);
  const double a2a_bytes = tokens * static_cast<double>(std::max<int64_t>(c_.top_k, 1)) * h * width_ / tp;
  const double ep_one = c_.moe() ? cost("expert parallel", Coll::kAllToAll, a2a_bytes, l_.ep, l_.tp * l_.ep, 0) : 0.0;

  const int64_t per_stage = c_.layers / l_.pp;
  std::vector<Unit> out;
  double gemm = 0, elem = 0;  // this stage's, one micro-batch
  if (stage == 0) {
    Unit root;
    root.dense_bytes = embed / tp;
    root.fwd_s = tokens * h * width_ / mem_rate_;  // the embedding's rows
    root.bwd_s = 2 * root.fwd_s;
    elem += 3 * root.fwd_s;
    out.push_back(root);
  }
  for (int64_t b = 0; b < per_stage; ++b) {
    Unit u;
    const double f_gemm = block_flops / 3 / block_rate, f_elem = block_act / 3 / mem_rate_;
    u.fwd_s = f_gemm + f_elem + 2 * tp_one + 2 * ep_one;
    u.bwd_s = 2 * (f_gemm + f_elem) + 2 * tp_one + 2 * ep_one + recompute * u.fwd_s;
    u.dense_bytes = block_dense;
    u.expert_bytes = block_expert;
    gemm += (3 + recompute) * f_gemm;
    elem += (3 + recompute) * f_elem;
    out.push_back(u);
  }
  if (stage == l_.pp - 1) {
    Unit u;
    const double f_gemm = head_flops / 3 / head_rate, f_elem = logits_act / 3 / mem_rate_;
    u.fwd_s = f_gemm + f_elem;
    u.bwd_s = 2 * u.fwd_s;
    u.dense_bytes = head / tp + norm;
    gemm += 3 * f_gemm;
    elem += 3 * f_elem;
    out.push_back(u);
  }
  stage_gemm_.push_back(gemm);
  stage_elem_.push_back(elem);
  // The critical-path collectives' calls in a step, counted once (every stage runs as many).
  if (stage == 0) {
    const int64_t calls = (4 + 2 * static_cast<int64_t>(recompute)) * per_stage * l_.accumulation;
    std::vector<std::pair<std::string, Coll>> critical;
    if (l_.tp > 1 && l_.sp)
      critical = {{"tensor parallel", Coll::kAllGather}, {"tensor parallel", Coll::kReduceScatter}};
    if (l_.tp > 1 && !l_.sp) critical = {{"tensor parallel", Coll::kAllReduce}};
    if (c_.moe() && l_.ep > 1) critical.emplace_back("expert parallel", Coll::kAllToAll);
    for (const auto& [what, coll] : critical)
      for (auto& t : out_.comm)
        if (t.what == what && t.coll == coll) {
          t.calls += calls;
          t.bytes += t.one_bytes * static_cast<double>(calls);
          t.total_s += t.one_s * static_cast<double>(calls);
          t.exposed_s += t.one_s * static_cast<double>(calls);
        }
  }
  return out;
}

// One FSDP micro-step: gathers issued one unit ahead of compute in forward and in backward,
// reduce-scatters after each unit's backward, on one communicator in issue order; hybrid
// sharding all-reduces each gradient shard across replicas on a second one. Returns its time.
double Predictor::fsdp_micro_step(const std::vector<Unit>& u) {
  const int64_t shard = l_.shard_group > 0 ? l_.shard_group : l_.dp, replicas = l_.dp / shard;
  const int64_t expert_group = shard / std::min(l_.ep, shard);
  auto gather = [&](const Unit& x) {
    return cost("fsdp gather", Coll::kAllGather, x.dense_bytes * width_, shard, shard) +
           cost("fsdp gather (experts)", Coll::kAllGather, x.expert_bytes * width_, expert_group, l_.ep * expert_group);
  };
  auto scatter = [&](const Unit& x) {
    return cost("fsdp reduce-scatter", Coll::kReduceScatter, x.dense_bytes * 4, shard, shard) +
           cost("fsdp reduce-scatter (experts)", Coll::kReduceScatter, x.expert_bytes * 4, expert_group,
                l_.ep * expert_group);
  };
  auto replicate = [&](const Unit& x) {
    return cost("hsdp replica all_reduce", Coll::kAllReduce,
                (x.dense_bytes + x.expert_bytes) * 4 / static_cast<double>(shard), replicas, l_.dp);
  };
  CommStream comm, second;
  const std::size_t n = u.size();
  std::vector<double> ready(n);
  double t = 0;
  // Forward: the root and the first block are gathered before anything runs.
  ready[0] = comm.run(0, gather(u[0]));
  if (n > 1) ready[1] = comm.run(0, gather(u[1]));
  double waited_gather = 0;
  for (std::size_t i = 0; i < n; ++i) {
    waited_gather += std::max(0.0, ready[i] - t);
    t = std::max(t, ready[i]);
    if (i + 2 < n) ready[i + 2] = comm.run(t, gather(u[i + 2]));  // issued as unit i starts
    t += u[i].fwd_s;
  }
  // Backward, last unit first (the root holds its parameters through the step).
  std::vector<double> bready(n, 0);
  if (n > 1) bready[n - 1] = comm.run(t, gather(u[n - 1]));
  double waited_bwd = 0;
  for (std::size_t k = n; k-- > 0;) {
    waited_bwd += std::max(0.0, bready[k] - t);
    t = std::max(t, bready[k]);
    if (k >= 2) bready[k - 1] = comm.run(t, gather(u[k - 1]));
    t += u[k].bwd_s;
    const double scattered = comm.run(t, scatter(u[k]));
    if (replicas > 1) second.run(scattered, replicate(u[k]));
  }
  const double end = std::max({t, comm.free_at, second.free_at});
  // What compute waited for, by collective: a wait for a gather queued behind reduce-scatters
  // is theirs beyond the gathers' own time; the tail after backward is the last scatters'.
  double exposed = waited_gather + waited_bwd + (end - t);
  for (const char* what : {"fsdp gather", "fsdp gather (experts)", "fsdp reduce-scatter",
                           "fsdp reduce-scatter (experts)", "hsdp replica all_reduce"})
    for (auto& term : out_.comm)
      if (term.what == what) {
        const double share = std::min(exposed, term.total_s);
        term.exposed_s += share;
        exposed -= share;
      }
  return end;
}

// DDP's gradient all_reduce during the last micro-step's backward: buckets filled in backward
// order (the first up to 1 MiB, then 25 MiB: DdpOptions), each issued when full, in order on
// one communicator; expert gradients over their replicas likewise. The time after backward ends.
double Predictor::ddp_backward_tail(const std::vector<Unit>& u) {
  const int64_t expert_dp = l_.dp / l_.ep;
  CommStream comm;
  double t = 0, dense = 0, expert = 0, cap = 1 << 20;
  auto flush = [&](double at) {
    comm.run(at, cost("ddp all_reduce", Coll::kAllReduce, dense, l_.dp, l_.tp * l_.dp) +
                     cost("ddp all_reduce (experts)", Coll::kAllReduce, expert, expert_dp, l_.tp * l_.dp));
    dense = expert = 0;
    cap = 25 << 20;
  };
  for (std::size_t k = u.size(); k-- > 0;) {
    t += u[k].bwd_s;
    dense += u[k].dense_bytes * 4;
    expert += u[k].expert_bytes * 4;
    if (dense + expert >= cap) flush(t);
  }
  if (dense + expert > 0) flush(t);
  const double tail = std::max(0.0, comm.free_at - t);
  expose("ddp all_reduce", Coll::kAllReduce, tail);
  return tail;
}

Prediction Predictor::run() {
  validate();
  // CPU pipelines: stages idle in the bubble leave their share of the node to the others, so
  // the ranks computing at once are ranks x the busy share, found by iterating.
  const double ranks = static_cast<double>(cl_.ranks_per_node);
  double active = ranks;
  for (int round = 0; round < 6; ++round) {
    out_ = Prediction{};
    stage_gemm_.clear();
    stage_elem_.clear();
    rates(active);
    step();
    if (p_.kind != "cpu" || l_.pp == 1) break;
    const double busy = std::max(0.0, out_.step_s - out_.bubble_s) / out_.step_s;
    active = std::max(1.0, ranks * busy);
  }
  return out_;
}

void Predictor::step() {
  out_.profile = p_.name;
  const int64_t world = l_.dp * l_.tp * l_.pp;
  const double M = static_cast<double>(l_.accumulation);
  std::vector<std::vector<Unit>> stage_units;
  for (int64_t s = 0; s < l_.pp; ++s) stage_units.push_back(units(s));
  std::vector<double> t_f, t_b;
  for (const auto& us : stage_units) {
    double f = 0, b = 0;
    for (const auto& x : us) f += x.fwd_s, b += x.bwd_s;
    t_f.push_back(f);
    t_b.push_back(b);
  }
  double step = 0;
  std::size_t busiest_stage = 0;
  for (std::size_t s = 1; s < t_f.size(); ++s)
    if (t_f[s] + t_b[s] > t_f[busiest_stage] + t_b[busiest_stage]) busiest_stage = s;
  out_.gemm_s = M * stage_gemm_[busiest_stage];
  out_.elementwise_s = M * stage_elem_[busiest_stage];
  if (l_.shard_params) {
    // Every micro-step gathers and reduce-scatters again: one simulated, its terms times M.
    step = M * fsdp_micro_step(stage_units[0]);
    for (auto& t : out_.comm) {
      t.calls *= l_.accumulation;
      t.bytes *= M;
      t.total_s *= M;
      t.exposed_s *= M;
    }
  } else if (l_.pp == 1) {
    step = M * (t_f[0] + t_b[0]) + ddp_backward_tail(stage_units[0]);
  } else {
    const double act = static_cast<double>(l_.micro_batch * l_.seq) * static_cast<double>(c_.hidden) * width_ /
                       static_cast<double>(l_.sp ? l_.tp : 1);
    const double p2p = cost("pipeline", Coll::kSendRecv, act, 2, 2 * l_.tp * l_.dp, 0);
    const double makespan = pipeline_makespan(l_.vp, l_.accumulation, t_f, t_b, p2p);
    // Its transfers are inside the makespan (the bubble holds what they add).
    for (auto& t : out_.comm)
      if (t.what == "pipeline") {
        t.calls = 2 * l_.accumulation * l_.vp;
        t.total_s = p2p * static_cast<double>(t.calls);
        t.bytes = t.one_bytes * static_cast<double>(t.calls);
      }
    out_.bubble_s = makespan - M * (t_f[busiest_stage] + t_b[busiest_stage]);
    step = makespan + ddp_backward_tail(stage_units.back());
  }
  // The loss (over every rank) and the gradient norm (over the model-parallel ranks): one
  // small all_reduce each.
  const double small = cost("loss and norm", Coll::kAllReduce, 8, world, world, 2);
  expose("loss and norm", Coll::kAllReduce, 2 * small);
  step += 2 * small;
  // AdamW and the clip read and write a parameter, its gradient and two moments (fp32): 32
  // bytes a parameter this rank updates.
  out_.memory = memory_per_rank(c_, l_);
  out_.optimizer_s = static_cast<double>(out_.memory.grads) / 4 * 32 / opt_rate_;
  step += out_.optimizer_s;
  // What overlapped communication (FSDP's and HSDP's, DDP's buckets) takes from compute where
  // they share the processor (CPU ranks: MPI's copies, reductions and TCP progress, FSDP's
  // storage refills and flattening, on the cores computing): calibrated, else 0. Pipeline
  // transfers are inside the makespan.
  double hidden = 0;
  for (const auto& t : out_.comm)
    if (t.what != "pipeline") hidden += t.total_s - t.exposed_s;
  out_.hidden_comm_s = hidden;
  out_.overlap_s = overlap_cost_ * hidden;
  step += out_.overlap_s;

  out_.step_s = step;
  out_.compute_s = out_.gemm_s + out_.elementwise_s;
  for (const auto& t : out_.comm) out_.exposed_comm_s += t.exposed_s;
  const double tokens = static_cast<double>(l_.micro_batch * l_.seq * l_.dp) * M;
  out_.tokens_per_s = tokens / step;
  out_.tokens_per_s_per_device = out_.tokens_per_s / static_cast<double>(world);
  out_.tflops_per_device = flops_per_token(c_, l_.seq) * out_.tokens_per_s_per_device / 1e12;
  const auto& peak = l_.bf16 ? p_.gemm_bf16 : p_.gemm_fp32;
  if (p_.kind == "gpu") out_.mfu = out_.tflops_per_device * 1e12 / peak->value;
  out_.runtime_bytes = static_cast<int64_t>(
      figure_or(p_.runtime_bytes, 0, "no memory besides the model's (the profile has no runtime_bytes)"));
  out_.peak_mem_bytes = out_.memory.total() + out_.runtime_bytes;
  out_.mem_capacity = p_.mem_capacity ? p_.mem_capacity->value : 0;
  if (p_.kind == "cpu" && p_.mem_capacity)
    out_.mem_capacity = p_.mem_capacity->value / static_cast<double>(cl_.ranks_per_node);
}

}  // namespace

double pipeline_makespan(int64_t chunks, int64_t micro, const std::vector<double>& t_f, const std::vector<double>& t_b,
                         double t_p2p) {
  const int64_t stages = static_cast<int64_t>(t_f.size());
  if (chunks > 1) {
    // Lock-step ticks: each as long as its busiest stage's forward and backward chunk, then
    // one shift of activations and gradients.
    const auto table = interleaved_timetable(stages, chunks, micro);
    double total = 0;
    const std::size_t ticks = table.empty() ? 0 : table[0].size();
    for (std::size_t k = 0; k < ticks; ++k) {
      double longest = 0;
      for (int64_t s = 0; s < stages; ++s) {
        const PipeTick& tick = table[s][k];
        const double v = static_cast<double>(chunks);
        longest = std::max(longest, (tick.forward.some() ? t_f[s] / v : 0) + (tick.backward.some() ? t_b[s] / v : 0));
      }
      total += longest + t_p2p;
    }
    return total;
  }
  // 1F1B: each stage runs its action list in order; a forward waits for the stage before, a
  // backward for the stage after, each plus one transfer.
  std::vector<std::vector<PipeAction>> acts;
  for (int64_t s = 0; s < stages; ++s) {
    std::vector<PipeAction> compute;
    for (const auto& a : one_f_one_b(stages, s, micro))
      if (a.op == PipeOp::kForward || a.op == PipeOp::kBackward) compute.push_back(a);
    acts.push_back(compute);
  }
  const double unset = -1;
  std::vector<std::vector<double>> f_end(stages, std::vector<double>(micro, unset)), b_end = f_end;
  std::vector<std::size_t> next(stages, 0);
  std::vector<double> free_at(stages, 0);
  for (bool progress = true; progress;) {
    progress = false;
    for (int64_t s = 0; s < stages; ++s) {
      while (next[s] < acts[s].size()) {
        const PipeAction& a = acts[s][next[s]];
        double dep = 0;
        if (a.op == PipeOp::kForward && s > 0) {
          if (f_end[s - 1][a.micro] == unset) break;
          dep = f_end[s - 1][a.micro] + t_p2p;
        } else if (a.op == PipeOp::kBackward) {
          const double after = s + 1 < stages ? b_end[s + 1][a.micro] : f_end[s][a.micro];
          if (after == unset) break;
          dep = after + (s + 1 < stages ? t_p2p : 0);
        }
        const double start = std::max(free_at[s], dep);
        free_at[s] = start + (a.op == PipeOp::kForward ? t_f[s] : t_b[s]);
        (a.op == PipeOp::kForward ? f_end : b_end)[s][a.micro] = free_at[s];
        ++next[s];
        progress = true;
      }
    }
  }
  return *std::max_element(free_at.begin(), free_at.end());
}

Prediction predict_step(const ModelConfig& c, const ParallelLayout& l, const Cluster& cluster, const HwProfile& p) {
  return Predictor(c, l, cluster, p).run();
}

nlohmann::json to_json(const Prediction& p) {
  nlohmann::json comm = nlohmann::json::array();
  for (const auto& t : p.comm)
    comm.push_back({{"what", t.what},
                    {"collective", coll_name(t.coll)},
                    {"level", t.level},
                    {"fit", t.rule},
                    {"ranks", t.ranks},
                    {"calls", t.calls},
                    {"bytes", t.bytes},
                    {"total_s", t.total_s},
                    {"exposed_s", t.exposed_s}});
  return {{"profile", p.profile},
          {"step_time_s", p.step_s},
          {"compute_s", p.compute_s},
          {"gemm_s", p.gemm_s},
          {"elementwise_s", p.elementwise_s},
          {"exposed_comm_s", p.exposed_comm_s},
          {"bubble_s", p.bubble_s},
          {"optimizer_s", p.optimizer_s},
          {"overlap_s", p.overlap_s},
          {"hidden_comm_s", p.hidden_comm_s},
          {"comm", comm},
          {"tokens_per_s", p.tokens_per_s},
          {"tokens_per_s_per_device", p.tokens_per_s_per_device},
          {"tflops_per_device", p.tflops_per_device},
          {"mfu", p.mfu},
          {"peak_mem_bytes", p.peak_mem_bytes},
          {"runtime_bytes", p.runtime_bytes},
          {"mem_capacity_bytes", p.mem_capacity},
          {"assumptions", p.assumptions}};
}

nlohmann::json prediction_record(const Prediction& p, const nlohmann::json& metrics) {
  nlohmann::json j = to_json(p);
  const double step = metrics["step_time_s"]["median"].get<double>();
  j["measured_over_predicted"] = {{"step_time", step / p.step_s},
                                  {"tokens_per_s", metrics["tokens_per_s"].get<double>() / p.tokens_per_s},
                                  {"peak_mem", static_cast<double>(metrics.value("peak_mem_bytes", int64_t{0})) /
                                                   static_cast<double>(std::max<int64_t>(1, p.peak_mem_bytes))}};
  return j;
}

std::string prediction_line(const nlohmann::json& j) {
  const auto& r = j["measured_over_predicted"];
  return fmt::format(
      "# predicted on {}: step {:.4g} s, tokens/s {:.0f}, peak mem {:.2f} GiB; measured/predicted: step {:.2f}, "
      "tokens/s {:.2f}, peak mem {:.2f}",
      j["profile"].get<std::string>(), j["step_time_s"].get<double>(), j["tokens_per_s"].get<double>(),
      j["peak_mem_bytes"].get<double>() / (1LL << 30), r["step_time"].get<double>(), r["tokens_per_s"].get<double>(),
      r["peak_mem"].get<double>());
}

std::string describe(const Prediction& p) {
  auto ms = [](double s) { return fmt::format("{:.3f} ms", s * 1e3); };
  std::string out;
  out += fmt::format("profile        {}\n", p.profile);
  out += fmt::format(
      "step           {} = compute {} (gemm {}, elementwise {}) + exposed comm {} + bubble {} + "
      "optimizer {}{}\n",
      ms(p.step_s), ms(p.compute_s), ms(p.gemm_s), ms(p.elementwise_s), ms(p.exposed_comm_s), ms(p.bubble_s),
      ms(p.optimizer_s), p.overlap_s > 0 ? fmt::format(" + overlapped comm's cost {}", ms(p.overlap_s)) : "");
  for (const auto& t : p.comm)
    out +=
        fmt::format("  comm         {:<28} {:<14} {:>3} ranks {:<10} {:>6} calls {:>10.4g} B  total {}  exposed {}{}\n",
                    t.what, coll_name(t.coll), t.ranks, t.level, t.calls, t.bytes, ms(t.total_s), ms(t.exposed_s),
                    t.rule == "fitted" ? "" : " (" + t.rule + ")");
  out += fmt::format("throughput     {:.1f} tokens/s, {:.1f} per device, {:.4g} TFLOP/s per device{}\n", p.tokens_per_s,
                     p.tokens_per_s_per_device, p.tflops_per_device,
                     p.mfu > 0 ? fmt::format(", MFU {:.1f}%", 100 * p.mfu) : "");
  out += fmt::format("peak memory    {:.2f} GiB per rank (model {:.2f} + runtime {:.2f}){}\n",
                     static_cast<double>(p.peak_mem_bytes) / (1LL << 30),
                     static_cast<double>(p.memory.total()) / (1LL << 30),
                     static_cast<double>(p.runtime_bytes) / (1LL << 30),
                     p.mem_capacity > 0 ? fmt::format(" of {:.1f} GiB", p.mem_capacity / (1LL << 30)) : "");
  for (const auto& a : p.assumptions) out += fmt::format("assumed        {}\n", a);
  return out;
}

}  // namespace dtbench
