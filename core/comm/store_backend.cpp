#include "core/comm/store_backend.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cstring>

#include "core/comm/op_thread.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {

// What a rank puts in the store for an op: the op's tag (what every rank must agree on), a
// newline, then the tensor's bytes (none for `t` undefined).
std::string payload(const std::string& tag, const at::Tensor& t) {
  std::string out;
  const std::size_t n = t.defined() ? t.nbytes() : 0;
  out.reserve(tag.size() + 1 + n);
  out += tag;
  out += '\n';
  if (n > 0) out.append(static_cast<const char*>(t.data_ptr()), n);
  return out;
}

// Rank r's bytes as a 1-D tensor of `like`'s dtype (a view of the string: read only).
at::Tensor view_of(const std::string& bytes, const at::Tensor& like) {
  return at::from_blob(const_cast<char*>(bytes.data()), {static_cast<int64_t>(bytes.size()) / like.element_size()},
                       like.options());
}

// out = op over parts (each a view of the same number of elements), in rank order;
// 16-bit types accumulate in fp32.
void reduce_parts(const at::Tensor& out, const std::vector<at::Tensor>& parts, ReduceOp op) {
  const at::ScalarType acc_type =
      out.scalar_type() == at::kBFloat16 || out.scalar_type() == at::kHalf ? at::kFloat : out.scalar_type();
  at::Tensor acc = parts[0].to(acc_type, /*non_blocking=*/false, /*copy=*/true);
  for (std::size_t r = 1; r < parts.size(); ++r) {
    const at::Tensor p = parts[r].to(acc_type);
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg:
        acc.add_(p);
        break;
      case ReduceOp::kProd:
        acc.mul_(p);
        break;
      case ReduceOp::kMax:
        at::maximum_out(acc, acc, p);
        break;
      case ReduceOp::kMin:
        at::minimum_out(acc, acc, p);
        break;
    }
  }
  if (op == ReduceOp::kAvg) {
    if (at::isIntegralType(acc_type, false))
      acc.div_(static_cast<int64_t>(parts.size()), "trunc");
    else
      acc.div_(static_cast<double>(parts.size()));
  }
  out.view({-1}).copy_(acc);
}

class StoreBackend final : public Backend {
 public:
  explicit StoreBackend(std::unique_ptr<ControlPlane> plane)
      : plane_(std::move(plane)), thread_(std::make_unique<OpThread>()) {
    plane_->set_traced(false);
  }
  ~StoreBackend() override { thread_.reset(); }

  const char* name() const override { return "store"; }
  int rank() const override { return plane_->rank(); }
  int size() const override { return plane_->size(); }
  at::Device device() const override { return at::kCPU; }

  std::shared_ptr<Work> start(OpArgs args) override {
    DT_USAGE(args.type != OpType::kSend && args.type != OpType::kRecv && args.type != OpType::kSendRecv,
             "{}: the store backend has no point-to-point ops; start the ranks with mpirun (--backend mpi) or use "
             "GPUs (nccl)",
             op_name(args.type));
    return thread_->post([this, a = std::move(args)] { run(a); });
  }

  std::unique_ptr<Backend> split(int color, int key) override {
    // On the op thread, after the ops before it: the plane is not shared between threads.
    std::unique_ptr<ControlPlane> child;
    thread_->post([&] { child = plane_->split(color, key); })->wait();
    return child ? std::make_unique<StoreBackend>(std::move(child)) : nullptr;
  }

 private:
  // Every rank's bytes for op `a`, after checking that all ranks entered the same op: the tags
  // travel with the data, so a rank that skipped or changed a collective is caught here, at no
  // extra exchange (exit 4 naming both ranks), instead of corrupting data or hanging. Then
  // every rank's bytes must be `bytes` long (`only_rank` >= 0: that rank's only).
  static constexpr std::size_t kAnySize = std::string::npos;  // all_to_allv: each rank's own
  std::vector<std::string> exchange(const OpArgs& a, const at::Tensor& mine, std::size_t bytes, int only_rank = -1) {
    auto parts = plane_->all_gather(payload(a.tag, mine));
    std::vector<std::string> tags;
    for (auto& p : parts) {
      const auto nl = p.find('\n');
      tags.push_back(p.substr(0, nl));
      p.erase(0, nl == std::string::npos ? p.size() : nl + 1);
    }
    for (int r = 0; r < size(); ++r) {
      if (tags[r] != a.tag)
        throw CorrectnessFailure(
            fmt::format("ranks disagree on the op they entered: rank {} entered {}, rank {} entered {} (a rank "
                        "skipped or changed a collective)",
                        rank(), a.tag, r, tags[r]));
      if (bytes != kAnySize && (only_rank < 0 || r == only_rank) && parts[r].size() != bytes)
        throw RuntimeFailure(
            fmt::format("{}: rank {} sent {} bytes where {} were expected", a.tag, r, parts[r].size(), bytes));
    }
    return parts;
  }

  void run(const OpArgs& a) {
    const int n = size(), me = rank();
    switch (a.type) {
      case OpType::kAllGather: {
        const auto parts = exchange(a, a.in, a.in.nbytes());
        auto* out = static_cast<char*>(a.out.data_ptr());
        for (int r = 0; r < n; ++r) parts[r].copy(out + r * parts[r].size(), parts[r].size());
        return;
      }
      case OpType::kAllReduce:
      case OpType::kReduce: {
        const auto parts = exchange(a, a.in, a.in.nbytes());
        if (a.type == OpType::kReduce && me != a.root) return;
        std::vector<at::Tensor> views;
        for (const auto& p : parts) views.push_back(view_of(p, a.in));
        reduce_parts(a.out, views, a.reduce);
        return;
      }
      case OpType::kReduceScatter: {
        const auto parts = exchange(a, a.in, a.in.nbytes());
        std::vector<at::Tensor> chunks;
        for (const auto& p : parts) chunks.push_back(view_of(p, a.in).narrow(0, me * a.out.numel(), a.out.numel()));
        reduce_parts(a.out, chunks, a.reduce);
        return;
      }
      case OpType::kBroadcast: {
        const auto parts = exchange(a, me == a.root ? a.in : at::Tensor(), a.out.nbytes(), a.root);
        std::memcpy(a.out.data_ptr(), parts[a.root].data(), parts[a.root].size());
        return;
      }
      case OpType::kAllToAll: {
        const auto parts = exchange(a, a.in, a.in.nbytes());
        const std::size_t chunk = a.out.nbytes() / n;
        auto* out = static_cast<char*>(a.out.data_ptr());
        for (int r = 0; r < n; ++r) std::memcpy(out + r * chunk, parts[r].data() + me * chunk, chunk);
        return;
      }
      case OpType::kAllToAllV: {
        // Each rank's payload: its n counts (int64), then its input; rank r's chunk for this
        // rank starts after r's chunks for the ranks before this one.
        at::Tensor mine = at::empty({static_cast<int64_t>(n * sizeof(int64_t) + a.in.nbytes())}, at::kByte);
        std::memcpy(mine.data_ptr(), a.in_counts.data(), n * sizeof(int64_t));
        if (a.in.nbytes() > 0)
          std::memcpy(mine.data_ptr<uint8_t>() + n * sizeof(int64_t), a.in.data_ptr(), a.in.nbytes());
        const auto parts = exchange(a, mine, kAnySize);
        const std::size_t elem = a.out.element_size();
        auto* out = static_cast<char*>(a.out.data_ptr());
        for (int r = 0; r < n; ++r) {
          std::vector<int64_t> counts(n);
          std::memcpy(counts.data(), parts[r].data(), n * sizeof(int64_t));
          std::size_t from = n * sizeof(int64_t);
          for (int j = 0; j < me; ++j) from += static_cast<std::size_t>(counts[j]) * elem;
          const std::size_t len = static_cast<std::size_t>(a.out_counts[r]) * elem;
          if (counts[me] != a.out_counts[r] || from + len > parts[r].size())
            throw RuntimeFailure(fmt::format("{}: rank {} sends {} elements to rank {}, which expects {}", a.tag, r,
                                             counts[me], me, a.out_counts[r]));
          std::memcpy(out, parts[r].data() + from, len);
          out += len;
        }
        return;
      }
      case OpType::kBarrier:
        exchange(a, at::Tensor(), 0);
        return;
      default:
        throw RuntimeFailure(fmt::format("store backend: {} is not supported", op_name(a.type)));
    }
  }

  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<OpThread> thread_;
};

}  // namespace

std::unique_ptr<Backend> make_store_backend(std::unique_ptr<ControlPlane> plane) {
  return std::make_unique<StoreBackend>(std::move(plane));
}

}  // namespace dtbench
