#include "core/comm/store_backend.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cstring>

#include "core/comm/op_thread.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {

std::string bytes_of(const at::Tensor& t) { return std::string(static_cast<const char*>(t.data_ptr()), t.nbytes()); }

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
      : plane_(std::move(plane)), thread_(std::make_unique<OpThread>()) {}
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
  void run(const OpArgs& a) {
    const int n = size(), me = rank();
    switch (a.type) {
      case OpType::kAllGather: {
        const auto parts = plane_->all_gather_exact(bytes_of(a.in), a.in.nbytes());
        auto* out = static_cast<char*>(a.out.data_ptr());
        for (int r = 0; r < n; ++r) parts[r].copy(out + r * parts[r].size(), parts[r].size());
        return;
      }
      case OpType::kAllReduce:
      case OpType::kReduce: {
        const auto parts = plane_->all_gather_exact(bytes_of(a.in), a.in.nbytes());
        if (a.type == OpType::kReduce && me != a.root) return;
        std::vector<at::Tensor> views;
        for (const auto& p : parts) views.push_back(view_of(p, a.in));
        reduce_parts(a.out, views, a.reduce);
        return;
      }
      case OpType::kReduceScatter: {
        const auto parts = plane_->all_gather_exact(bytes_of(a.in), a.in.nbytes());
        std::vector<at::Tensor> chunks;
        for (const auto& p : parts) chunks.push_back(view_of(p, a.in).narrow(0, me * a.out.numel(), a.out.numel()));
        reduce_parts(a.out, chunks, a.reduce);
        return;
      }
      case OpType::kBroadcast: {
        const auto parts =
            plane_->all_gather_exact(me == a.root ? bytes_of(a.in) : std::string(), a.out.nbytes(), a.root);
        std::memcpy(a.out.data_ptr(), parts[a.root].data(), parts[a.root].size());
        return;
      }
      case OpType::kAllToAll: {
        const auto parts = plane_->all_gather_exact(bytes_of(a.in), a.in.nbytes());
        const std::size_t chunk = a.out.nbytes() / n;
        auto* out = static_cast<char*>(a.out.data_ptr());
        for (int r = 0; r < n; ++r) std::memcpy(out + r * chunk, parts[r].data() + me * chunk, chunk);
        return;
      }
      case OpType::kBarrier:
        plane_->barrier();
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
