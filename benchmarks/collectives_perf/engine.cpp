#include "benchmarks/collectives_perf/engine.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cstdio>

#include "core/report/clock.h"
#include "core/report/result.h"
#include "core/report/stats.h"

namespace dtbench::collperf {

namespace {

// Rank r's values: small integers, so that sums over many ranks stay exact even in
// bfloat16; products use +-1 so they stay exact too.
at::Tensor input_values(int r, int64_t count, ReduceOp op) {
  at::Tensor i = at::arange(count, at::kLong);
  at::Tensor v = op == ReduceOp::kProd ? 1 - 2 * ((i + r) % 2) : (i * 3 + r * 7) % 5 - 2;
  return v.to(at::kDouble);
}

// Relative tolerance of a checked element; exact for integers.
double tolerance(c10::ScalarType t) {
  switch (t) {
    case c10::kDouble:
      return 1e-12;
    case c10::kFloat:
      return 1e-6;
    case c10::kHalf:
      return 1e-3;
    case c10::kBFloat16:
      return 8e-3;
    default:
      return 0.0;
  }
}

struct Buffers {
  at::Tensor send, recv;
};

Buffers make_buffers(const Collective& c, bool in_place, int rank, int64_t send_n, int64_t recv_n,
                     const at::TensorOptions& opt) {
  Buffers b;
  if (!in_place) {
    b.send = at::empty({send_n}, opt);
    b.recv = at::empty({recv_n}, opt);
    return b;
  }
  switch (c.in_place) {
    case InPlace::kSame:
      b.send = b.recv = at::empty({recv_n}, opt);
      break;
    case InPlace::kSendIsRecvChunk:
      b.recv = at::empty({recv_n}, opt);
      b.send = b.recv.narrow(0, rank * send_n, send_n);
      break;
    case InPlace::kRecvIsSendChunk:
      b.send = at::empty({send_n}, opt);
      b.recv = b.send.narrow(0, rank * recv_n, recv_n);
      break;
    case InPlace::kNone:
      break;
  }
  return b;
}

// Fills this rank's send buffer (and poisons the receive buffer where it is separate).
void init_data(const Buffers& b, int rank, ReduceOp op, bool in_place) {
  if (!in_place && b.recv.numel() > 0) b.recv.fill_(-99);
  if (b.send.numel() > 0) b.send.copy_(input_values(rank, b.send.numel(), op));
}

int64_t count_wrong(const Buffers& b, const at::Tensor& expected, c10::ScalarType t) {
  if (!expected.defined() || expected.numel() == 0) return 0;
  at::Tensor got = b.recv.to(at::kCPU).to(at::kDouble);
  at::Tensor err = (got - expected).abs();
  at::Tensor tol = expected.abs().clamp_min(1.0) * tolerance(t);
  return (err > tol).logical_or(got.isnan()).sum().item<int64_t>();
}

// Fresh data, one op, then every rank compares with what it expects; the sum over ranks.
int64_t check_once(Communicator& comm, const Collective& c, const Buffers& b, ReduceOp op, int root,
                   const InputFn& inputs, c10::ScalarType t, bool in_place) {
  init_data(b, comm.rank(), op, in_place);
  c.run(comm, b.send, b.recv, op, root)->synchronize();
  at::Tensor expected = c.expected(inputs, comm.rank(), comm.size(), op, root, b.send.numel(), b.recv.numel());
  int64_t total = 0;
  for (auto& s : comm.control().all_gather(std::to_string(count_wrong(b, expected, t)))) total += std::stoll(s);
  return total;
}

InputFn make_inputs(ReduceOp op, c10::ScalarType t) {
  return InputFn{[op](int r, int64_t count) { return input_values(r, count, op); }, c10::isIntegralType(t, false)};
}

Placement measure(Communicator& comm, const Collective& c, const BenchArgs& a, const Buffers& b, ReduceOp op, int root,
                  int64_t bytes, const InputFn& inputs, c10::ScalarType t, bool in_place) {
  Placement p;
  const int rank = comm.rank(), n = comm.size();
  init_data(b, rank, op, in_place);
  // `count` ops issued back to back, then one wait for the last (ops on one communicator
  // complete in issue order).
  auto issue = [&](int count) {
    std::shared_ptr<Work> last;
    for (int m = 0; m < count; ++m) last = c.run(comm, b.send, b.recv, op, root);
    last->synchronize();
  };
  for (int w = 0; w < a.warmup; ++w) issue(a.agg);
  comm.barrier()->synchronize();
  std::vector<double> samples;
  if (a.iteration_times) {
    // -I: each iteration timed alone (a synchronisation after each), for the spread.
    for (int it = 0; it < a.iters; ++it) {
      const double t0 = now_s();
      issue(a.agg);
      samples.push_back((now_s() - t0) / a.agg * 1e6);
    }
  } else {
    // nccl-tests' way: every iteration issued, one synchronisation at the end; small
    // messages are not charged a host round trip per iteration.
    const double t0 = now_s();
    issue(a.iters * a.agg);
    samples.push_back((now_s() - t0) / (a.iters * a.agg) * 1e6);
  }
  if (a.iteration_times) {
    // Every rank's iterations reach every rank (nccl-tests' times_us and per-process rows).
    std::string mine;
    for (double x : samples) mine += fmt::format("{}{:.17g}", mine.empty() ? "" : " ", x);
    for (const std::string& s : comm.control().all_gather(mine)) {
      std::vector<double>& row = p.iter_us.emplace_back();
      size_t pos = 0;
      while (pos < s.size()) {
        size_t used = 0;
        row.push_back(std::stod(s.substr(pos), &used));
        pos += used;
      }
    }
    samples.erase(samples.begin(), samples.begin() + a.iter_skip);
  }
  p.samples_us = summarize(samples);

  // Combine the ranks' mean times as -a says, and keep the spread.
  auto all = comm.control().all_gather(fmt::format("{:.17g}", p.samples_us.mean));
  std::vector<double> means;
  for (auto& s : all) means.push_back(std::stod(s));
  Summary across = summarize(means);
  p.rank_min_us = across.min;
  p.rank_max_us = across.max;
  p.time_us = a.average == 0 ? means[0] : a.average == 1 ? across.mean : a.average == 2 ? across.min : across.max;
  p.algbw = p.time_us > 0 ? static_cast<double>(bytes) / (p.time_us * 1e-6) / 1e9 : 0;
  p.busbw = p.algbw * c.busbw_factor(n);

  if (a.check) p.wrong = check_once(comm, c, b, op, root, inputs, t, in_place);
  return p;
}

std::string cell_time(double us) { return us >= 1e4 ? fmt::format("{:.0f}", us) : fmt::format("{:.2f}", us); }

nlohmann::json placement_json(const Placement& p) {
  return {{"time_us", p.time_us},
          {"algbw_gbps", p.algbw},
          {"busbw_gbps", p.busbw},
          {"wrong", p.wrong},
          {"time_us_rank_min", p.rank_min_us},
          {"time_us_rank_max", p.rank_max_us},
          {"samples_us", to_json(p.samples_us)}};
}

}  // namespace

int64_t run_checked(Communicator& comm, const Collective& coll, c10::ScalarType dtype, ReduceOp op, int root,
                    int64_t elems, bool in_place) {
  int64_t send_n = 0, recv_n = 0;
  coll.counts(elems, comm.size(), &send_n, &recv_n);
  const at::TensorOptions opt = at::TensorOptions().dtype(dtype).device(comm.device());
  Buffers b = make_buffers(coll, in_place, comm.rank(), send_n, recv_n, opt);
  return check_once(comm, coll, b, op, root, make_inputs(op, dtype), dtype, in_place);
}

double peak_buffer_bytes(const Collective& coll, const BenchArgs& args, int nranks) {
  // Counts are linear in the elements (up to rounding): their ratios at a size that cannot
  // overflow scale to the largest one.
  const int64_t probe = int64_t{1024} * nranks;
  int64_t send_n = 0, recv_n = 0;
  coll.counts(probe, nranks, &send_n, &recv_n);
  double peak = 0;
  for (c10::ScalarType t : args.dtypes) {
    const double es = static_cast<double>(c10::elementSize(t));
    const double elems = static_cast<double>(args.max_bytes) / es;
    const double send = elems * static_cast<double>(send_n) / static_cast<double>(probe);
    const double recv = elems * static_cast<double>(recv_n) / static_cast<double>(probe);
    peak = std::max(peak, (send + recv) * es + (args.check ? (send + recv) * 8.0 : 0.0));
  }
  return peak;
}

void print_table_header() {
  std::printf("#%57s out-of-place                       in-place\n", "");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "size", "count", "type", "redop",
              "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)", "(elements)", "", "", "",
              "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
  std::fflush(stdout);
}

namespace {

// The roots a row is run for: none (-1) for rootless collectives, every rank for -r -1.
std::vector<int> roots_of(const Collective& c, const BenchArgs& a, int world_size) {
  if (!c.uses_root) return {-1};
  if (a.root >= 0) return {a.root};
  std::vector<int> roots;
  for (int r = 0; r < world_size; ++r) roots.push_back(r);
  return roots;
}

std::vector<ReduceOp> reduce_ops_of(const Collective& c, const BenchArgs& a) {
  return c.uses_reduce_op ? a.reduce_ops : std::vector<ReduceOp>{ReduceOp::kSum};
}

}  // namespace

int64_t row_count(const Collective& c, const BenchArgs& a, int world_size) {
  return static_cast<int64_t>(a.dtypes.size() * reduce_ops_of(c, a).size() * roots_of(c, a, world_size).size() *
                              message_sizes(a).size());
}

EngineResult run_engine(Communicator& comm, const Collective& c, const BenchArgs& a) {
  EngineResult res;
  const int rank = comm.rank(), n = comm.size();
  const std::vector<int> roots = roots_of(c, a, n);
  const std::vector<ReduceOp> ops = reduce_ops_of(c, a);
  ProfileWindow profile(a.profile);
  int64_t row = 0;

  for (c10::ScalarType t : a.dtypes) {
    const auto es = static_cast<int64_t>(c10::elementSize(t));
    // The communicator's own device (cuda:<local rank>), never the current one.
    const at::TensorOptions opt = at::TensorOptions().dtype(t).device(comm.device());
    for (ReduceOp op : ops) {
      const InputFn inputs = make_inputs(op, t);
      for (int root : roots) {
        for (int64_t size : message_sizes(a)) {
          int64_t send_n = 0, recv_n = 0;
          c.counts(size / es, n, &send_n, &recv_n);
          const int64_t bytes = std::max(send_n, recv_n) * es;
          const int op_root = root < 0 ? 0 : root;
          profile.begin(++row);
          Placement oop = measure(comm, c, a, make_buffers(c, false, rank, send_n, recv_n, opt), op, op_root, bytes,
                                  inputs, t, false);
          std::optional<Placement> ip;
          if (c.in_place != InPlace::kNone)
            ip = measure(comm, c, a, make_buffers(c, true, rank, send_n, recv_n, opt), op, op_root, bytes, inputs, t,
                         true);
          profile.end(row);  // measure() waited for the device
          const char* redop = c.uses_reduce_op ? reduce_op_name(op) : "none";
          if (rank == 0) {
            std::string line = fmt::format("{:>12}  {:>12}  {:>8}  {:>6}  {:>6}  {:>7}  {:>6.2f}  {:>6.2f}  {:>6}",
                                           bytes, bytes / es, dtype_name(t), redop, root, cell_time(oop.time_us),
                                           oop.algbw, oop.busbw, a.check ? std::to_string(oop.wrong) : "N/A");
            if (ip)
              line += fmt::format("  {:>7}  {:>6.2f}  {:>6.2f}  {:>6}", cell_time(ip->time_us), ip->algbw, ip->busbw,
                                  a.check ? std::to_string(ip->wrong) : "N/A");
            else
              line += fmt::format("  {:>7}  {:>6}  {:>6}  {:>6}", "N/A", "N/A", "N/A", "N/A");
            std::printf("%s\n", line.c_str());
            std::fflush(stdout);
          }
          res.wrong += oop.wrong + (ip ? ip->wrong : 0);
          res.busbw_sum += oop.busbw + (ip ? ip->busbw : 0);
          res.busbw_n += ip ? 2 : 1;
          res.table.push_back({bytes, bytes / es, dtype_name(t), redop, root, oop, ip});
          res.rows.push_back({{"op", c.name},
                              {"size_bytes", bytes},
                              {"count", bytes / es},
                              {"type", dtype_name(t)},
                              {"redop", redop},
                              {"root", root},
                              {"out_of_place", placement_json(oop)},
                              {"in_place", ip ? placement_json(*ip) : nlohmann::json(nullptr)}});
        }
      }
    }
  }
  return res;
}

}  // namespace dtbench::collperf
