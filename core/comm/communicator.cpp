#include "core/comm/communicator.h"

#include "core/comm/op_timing.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/comm/watchdog.h"
#include "core/report/clock.h"
#include "core/report/span.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {

const char* place(const at::Tensor& in, const at::Tensor& out) {
  return in.data_ptr() == out.data_ptr() ? "in-place" : "out-of-place";
}

char* bytes_of(const at::Tensor& t) { return static_cast<char*>(t.data_ptr()); }

// Whether `part`'s bytes lie inside `whole`'s (the in-place layouts).
bool overlaps(const at::Tensor& part, const at::Tensor& whole) {
  if (part.nbytes() == 0 || whole.nbytes() == 0) return false;
  return bytes_of(part) < bytes_of(whole) + whole.nbytes() && bytes_of(whole) < bytes_of(part) + part.nbytes();
}

}  // namespace

std::string rank_ranges(const std::vector<int>& ranks) {
  std::string out;
  for (std::size_t i = 0; i < ranks.size();) {
    std::size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += j == i ? fmt::format("{}", ranks[i]) : fmt::format("{}-{}", ranks[i], ranks[j]);
    i = j + 1;
  }
  return out;
}

Communicator::Communicator(std::string name, std::unique_ptr<Backend> backend, std::unique_ptr<ControlPlane> control,
                           std::vector<int> world_ranks, CommOptions options)
    : name_(std::move(name)),
      backend_(std::move(backend)),
      control_(std::move(control)),
      world_ranks_(std::move(world_ranks)),
      group_(rank_ranges(world_ranks_)),
      options_(options) {
  const auto& fault = fault_op_from_env();
  if (fault && fault->comm == name_ && fault->rank < static_cast<int>(world_ranks_.size()) &&
      world_ranks_[backend_->rank()] == fault->rank)
    fault_ = fault;
}

Communicator::~Communicator() = default;

std::string Communicator::peers_text(const OpArgs& a) const {
  auto world = [&](int r) { return r >= 0 && r < static_cast<int>(world_ranks_.size()) ? world_ranks_[r] : r; };
  switch (a.type) {
    case OpType::kSend:
      return fmt::format("sends to world rank {}", world(a.dst));
    case OpType::kRecv:
      return fmt::format("receives from world rank {}", world(a.src));
    case OpType::kSendRecv:
      return fmt::format("sends to world rank {}, receives from world rank {}", world(a.dst), world(a.src));
    default:
      return fmt::format("world ranks {}", rank_ranges(world_ranks_));
  }
}

std::shared_ptr<Work> Communicator::issue(OpArgs a) {
  if (fault_ && fault_->seq == seq_) {
    if (fault_->action == FaultOp::Action::kSkip) {  // as if this rank's code never issued it
      fault_.reset();
      auto done = std::make_shared<CpuWork>();
      done->finish();
      return done;
    }
    fault_.reset();
    a = OpArgs{OpType::kBarrier};
  }
  const at::Tensor& t = a.in.defined() ? a.in : a.out;
  // What every rank must agree on (the op's signature), then where this rank's buffers are.
  std::string what = op_name(a.type);
  if (t.defined() && a.type == OpType::kAllToAllV) {
    what += fmt::format(" {}", dtype_name(t.scalar_type()));  // the counts differ from rank to rank
  } else if (t.defined()) {
    what += fmt::format(" {} x {}", dtype_name(t.scalar_type()), t.numel());
    if (a.type == OpType::kAllReduce || a.type == OpType::kReduceScatter || a.type == OpType::kReduce)
      what += fmt::format(" {}", reduce_op_name(a.reduce));
    if (a.type == OpType::kBroadcast || a.type == OpType::kReduce) what += fmt::format(" root {}", a.root);
  }
  const uint64_t seq = seq_++;
  std::string context = span_context();
  // Ranks run the same program: the same op comes from the same place in it (the same step,
  // micro-batch and FSDP unit), so a collective skipped on one rank shows at that op even
  // where the next op has the same shape.
  a.tag = fmt::format("'{}' #{} {}{}", name_, seq, what, context.empty() ? "" : " (" + context + ")");
  if (t.defined()) what += fmt::format(" {}", place(a.in.defined() ? a.in : a.out, a.out.defined() ? a.out : a.in));
  if (options_.debug_collectives && is_collective(a.type)) {
    // Compare what every rank is about to do; a mismatch would hang or corrupt silently.
    auto all = control_->all_gather(fmt::format("#{} {}", seq, what));
    for (int r = 0; r < static_cast<int>(all.size()); ++r) {
      if (all[r] != all[0])
        throw CorrectnessFailure(
            fmt::format("--debug-collectives: communicator '{}' ranks disagree on the next op: rank 0 issues '{}' "
                        "but rank {} issues '{}'",
                        name_, all[0], r, all[r]));
    }
  }
  OpTrace trace;
  trace.comm = name_;
  trace.group = group_;
  trace.seq = seq;
  trace.what = std::move(what);
  trace.peers = peers_text(a);
  trace.bytes = t.defined() ? static_cast<int64_t>(t.nbytes()) : 0;
  trace.context = std::move(context);
  trace.step = OpTimingLog::instance().step();
  const double issued = now_s();
  auto work = backend_->start(std::move(a));
  Watchdog::instance().track(std::move(trace), work, issued);
  return work;
}

static void check_tensor(const at::Tensor& t, const char* what, const std::string& comm, at::Device device) {
  DT_CHECK(t.defined(), "communicator '{}': {} tensor is undefined", comm, what);
  DT_CHECK(t.is_contiguous(), "communicator '{}': {} tensor must be contiguous", comm, what);
  // The device itself, not only its type: a cuda:0 tensor handed to GPU 3's communicator would
  // be read across devices, racing the other GPU's stream.
  DT_CHECK(t.device() == device, "communicator '{}': {} tensor is on {}, the backend's device is {}", comm, what,
           t.device().str(), device.str());
}

std::shared_ptr<Work> Communicator::all_reduce(const at::Tensor& in, const at::Tensor& out, ReduceOp op) {
  check_tensor(in, "input", name_, backend_->device());
  check_tensor(out, "output", name_, backend_->device());
  DT_CHECK(in.numel() == out.numel() && in.scalar_type() == out.scalar_type(),
           "all_reduce on '{}': input and output differ in size or dtype", name_);
  return issue({OpType::kAllReduce, op, in, out});
}

std::shared_ptr<Work> Communicator::all_gather(const at::Tensor& in, const at::Tensor& out) {
  check_tensor(in, "input", name_, backend_->device());
  check_tensor(out, "output", name_, backend_->device());
  DT_CHECK(out.numel() == in.numel() * size() && in.scalar_type() == out.scalar_type(),
           "all_gather on '{}': output needs {} x input elements of the same dtype", name_, size());
  DT_CHECK(!overlaps(in, out) || bytes_of(in) == bytes_of(out) + rank() * in.nbytes(),
           "all_gather on '{}': an in-place input must be exactly the output's chunk {}", name_, rank());
  return issue({OpType::kAllGather, ReduceOp::kSum, in, out});
}

std::shared_ptr<Work> Communicator::reduce_scatter(const at::Tensor& in, const at::Tensor& out, ReduceOp op) {
  check_tensor(in, "input", name_, backend_->device());
  check_tensor(out, "output", name_, backend_->device());
  DT_CHECK(in.numel() == out.numel() * size() && in.scalar_type() == out.scalar_type(),
           "reduce_scatter on '{}': input needs {} x output elements of the same dtype", name_, size());
  DT_CHECK(!overlaps(out, in) || bytes_of(out) == bytes_of(in) + rank() * out.nbytes(),
           "reduce_scatter on '{}': an in-place output must be exactly the input's chunk {}", name_, rank());
  return issue({OpType::kReduceScatter, op, in, out});
}

std::shared_ptr<Work> Communicator::broadcast(const at::Tensor& in, const at::Tensor& out, int root) {
  check_tensor(in, "input", name_, backend_->device());
  check_tensor(out, "output", name_, backend_->device());
  DT_CHECK(root >= 0 && root < size(), "broadcast on '{}': root {} is not a rank of {}", name_, root, size());
  DT_CHECK(in.numel() == out.numel() && in.scalar_type() == out.scalar_type(),
           "broadcast on '{}': input and output differ in size or dtype", name_);
  OpArgs a{OpType::kBroadcast, ReduceOp::kSum, in, out};
  a.root = root;
  return issue(std::move(a));
}

std::shared_ptr<Work> Communicator::reduce(const at::Tensor& in, const at::Tensor& out, int root, ReduceOp op) {
  check_tensor(in, "input", name_, backend_->device());
  check_tensor(out, "output", name_, backend_->device());
  DT_CHECK(root >= 0 && root < size(), "reduce on '{}': root {} is not a rank of {}", name_, root, size());
  DT_CHECK(in.numel() == out.numel() && in.scalar_type() == out.scalar_type(),
           "reduce on '{}': input and output differ in size or dtype", name_);
  OpArgs a{OpType::kReduce, op, in, out};
  a.root = root;
  return issue(std::move(a));
}

std::shared_ptr<Work> Communicator::all_to_all(const at::Tensor& in, const at::Tensor& out) {
  check_tensor(in, "input", name_, backend_->device());
  check_tensor(out, "output", name_, backend_->device());
  DT_CHECK(in.numel() == out.numel() && in.numel() % size() == 0 && in.scalar_type() == out.scalar_type(),
           "all_to_all on '{}': input and output need the same size, a multiple of {}", name_, size());
  return issue({OpType::kAllToAll, ReduceOp::kSum, in, out});
}

std::shared_ptr<Work> Communicator::all_to_all(const at::Tensor& in, const at::Tensor& out,
                                               std::vector<int64_t> in_counts, std::vector<int64_t> out_counts) {
  check_tensor(in, "input", name_, backend_->device());
  check_tensor(out, "output", name_, backend_->device());
  const auto n = static_cast<std::size_t>(size());
  auto valid = [&](const std::vector<int64_t>& counts, const at::Tensor& t) {
    int64_t sum = 0;
    for (int64_t c : counts) {
      if (c < 0) return false;
      sum += c;
    }
    return counts.size() == n && sum == t.numel();
  };
  DT_CHECK(valid(in_counts, in) && valid(out_counts, out),
           "all_to_allv on '{}': needs {} counts each way, not negative, adding up to the input's {} and the output's "
           "{} elements",
           name_, n, in.numel(), out.numel());
  DT_CHECK(in.scalar_type() == out.scalar_type() && !overlaps(in, out),
           "all_to_allv on '{}': input and output need the same dtype and separate memory", name_);
  OpArgs a{OpType::kAllToAllV, ReduceOp::kSum, in, out};
  a.in_counts = std::move(in_counts);
  a.out_counts = std::move(out_counts);
  return issue(std::move(a));
}

std::shared_ptr<Work> Communicator::send(const at::Tensor& t, int dst) {
  check_tensor(t, "send", name_, backend_->device());
  DT_CHECK(dst >= 0 && dst < size() && dst != rank(), "send on '{}': bad peer {}", name_, dst);
  OpArgs a{OpType::kSend, ReduceOp::kSum, t, at::Tensor()};
  a.dst = dst;
  return issue(std::move(a));
}

std::shared_ptr<Work> Communicator::recv(const at::Tensor& t, int src) {
  check_tensor(t, "recv", name_, backend_->device());
  DT_CHECK(src >= 0 && src < size() && src != rank(), "recv on '{}': bad peer {}", name_, src);
  OpArgs a{OpType::kRecv, ReduceOp::kSum, at::Tensor(), t};
  a.src = src;
  return issue(std::move(a));
}

std::shared_ptr<Work> Communicator::send_recv(const at::Tensor& send, int dst, const at::Tensor& recv, int src) {
  check_tensor(send, "send", name_, backend_->device());
  check_tensor(recv, "recv", name_, backend_->device());
  DT_CHECK(dst >= 0 && dst < size() && src >= 0 && src < size(), "send_recv on '{}': bad peers {} / {}", name_, dst,
           src);
  OpArgs a{OpType::kSendRecv, ReduceOp::kSum, send, recv};
  a.dst = dst;
  a.src = src;
  return issue(std::move(a));
}

std::shared_ptr<Work> Communicator::barrier() { return issue({OpType::kBarrier}); }

std::unique_ptr<Communicator> Communicator::split(int color, int key, const std::string& name) {
  // The control plane learns the membership (and its own child plane); the backend splits
  // after every op issued before this one.
  auto all = control_->all_gather(split_request(color, key));
  auto child_control = control_->split(color, key);
  auto child_backend = backend_->split(color, key);
  if (color < 0) return nullptr;
  std::vector<int> world;
  for (int r : split_members(all, color)) world.push_back(world_ranks_[r]);
  DT_CHECK(child_backend && child_control && child_backend->size() == static_cast<int>(world.size()),
           "split of '{}' into '{}': backend and control plane disagree on membership", name_, name);
  return std::make_unique<Communicator>(name, std::move(child_backend), std::move(child_control), std::move(world),
                                        options_);
}

}  // namespace dtbench
