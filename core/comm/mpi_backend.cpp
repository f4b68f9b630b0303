// The mpi backend: the op calls for CPU tensors. Ops run in issue order on the
// communicator's own thread (see op_thread.h); bf16 and fp16 reduce through user-defined
// MPI_Ops, since MPI has no 16-bit float types.
#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <fmt/format.h>
#include <mpi.h>

#include <climits>
#include <cstring>

#include "core/comm/mpi_world.h"
#include "core/comm/op_thread.h"
#include "core/report/errors.h"

namespace dtbench {

namespace {

// ---- 16-bit floating point reductions -------------------------------------------------

template <typename T, typename F>
void apply16(void* in, void* inout, int* len, F f) {
  auto* a = static_cast<const T*>(in);
  auto* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = T(f(static_cast<float>(a[i]), static_cast<float>(b[i])));
}

template <typename T>
struct Ops16 {
  static void sum(void* a, void* b, int* n, MPI_Datatype*) {
    apply16<T>(a, b, n, [](float x, float y) { return x + y; });
  }
  static void prod(void* a, void* b, int* n, MPI_Datatype*) {
    apply16<T>(a, b, n, [](float x, float y) { return x * y; });
  }
  static void max(void* a, void* b, int* n, MPI_Datatype*) {
    apply16<T>(a, b, n, [](float x, float y) { return x > y ? x : y; });
  }
  static void min(void* a, void* b, int* n, MPI_Datatype*) {
    apply16<T>(a, b, n, [](float x, float y) { return x < y ? x : y; });
  }
};

struct UserOps {
  MPI_Op bf16[4], fp16[4];  // sum prod max min
  UserOps() {
    MPI_User_function* b[4] = {Ops16<c10::BFloat16>::sum, Ops16<c10::BFloat16>::prod, Ops16<c10::BFloat16>::max,
                               Ops16<c10::BFloat16>::min};
    MPI_User_function* h[4] = {Ops16<c10::Half>::sum, Ops16<c10::Half>::prod, Ops16<c10::Half>::max,
                               Ops16<c10::Half>::min};
    for (int i = 0; i < 4; ++i) {
      MPI_Op_create(b[i], 1, &bf16[i]);
      MPI_Op_create(h[i], 1, &fp16[i]);
    }
  }
};

const UserOps& user_ops() {
  static UserOps ops;  // created on first use, after MPI_Init
  return ops;
}

MPI_Datatype mpi_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return MPI_FLOAT;
    case at::kDouble:
      return MPI_DOUBLE;
    case at::kInt:
      return MPI_INT32_T;
    case at::kLong:
      return MPI_INT64_T;
    case at::kByte:
      return MPI_UINT8_T;
    case at::kChar:
      return MPI_INT8_T;
    case at::kBFloat16:
    case at::kHalf:
      return MPI_UINT16_T;
    default:
      throw RuntimeFailure(fmt::format("the mpi backend has no MPI type for {}", c10::toString(t)));
  }
}

MPI_Op mpi_op(ReduceOp op, at::ScalarType t) {
  int idx = 0;
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      idx = 0;
      break;  // avg: sum, then divide
    case ReduceOp::kProd:
      idx = 1;
      break;
    case ReduceOp::kMax:
      idx = 2;
      break;
    case ReduceOp::kMin:
      idx = 3;
      break;
  }
  if (t == at::kBFloat16) return user_ops().bf16[idx];
  if (t == at::kHalf) return user_ops().fp16[idx];
  static const MPI_Op builtin[4] = {MPI_SUM, MPI_PROD, MPI_MAX, MPI_MIN};
  return builtin[idx];
}

int count_of(int64_t n, const char* op) {
  if (n > INT_MAX)
    throw RuntimeFailure(fmt::format("{} of {} elements exceeds MPI's int count; split the buffer", op, n));
  return static_cast<int>(n);
}

void finish_avg(const at::Tensor& out, ReduceOp op, int size) {
  if (op != ReduceOp::kAvg || out.numel() == 0) return;
  if (at::isIntegralType(out.scalar_type(), false))
    out.div_(size, "trunc");
  else
    out.div_(size);
}

char* ptr(const at::Tensor& t) { return static_cast<char*>(t.data_ptr()); }

class MpiBackend final : public Backend {
 public:
  explicit MpiBackend(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    thread_ = std::make_unique<OpThread>();
  }
  ~MpiBackend() override {
    thread_.reset();  // runs what is queued first
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  const char* name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  at::Device device() const override { return at::kCPU; }

  std::shared_ptr<Work> start(OpArgs args) override {
    return thread_->post([this, a = std::move(args)] { run(a); });
  }

  std::unique_ptr<Backend> split(int color, int key) override {
    MPI_Comm child = MPI_COMM_NULL;
    // On the communication thread, so that it follows every op issued before it.
    thread_
        ->post(
            [&] { mpi_check(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &child), "MPI_Comm_split"); })
        ->wait();
    if (child == MPI_COMM_NULL) return nullptr;
    return std::make_unique<MpiBackend>(child);
  }

 private:
  void run(const OpArgs& a) {
    const at::Tensor& t = a.out.defined() ? a.out : a.in;
    MPI_Datatype dt = t.defined() ? mpi_type(t.scalar_type()) : MPI_BYTE;
    const bool inplace = a.in.defined() && a.out.defined() && a.in.data_ptr() == a.out.data_ptr();
    switch (a.type) {
      case OpType::kAllReduce: {
        int n = count_of(a.out.numel(), "all_reduce");
        if (n == 0) return;
        mpi_check(MPI_Allreduce(inplace ? MPI_IN_PLACE : ptr(a.in), ptr(a.out), n, dt,
                                mpi_op(a.reduce, t.scalar_type()), comm_),
                  "MPI_Allreduce");
        finish_avg(a.out, a.reduce, size_);
        return;
      }
      case OpType::kAllGather: {
        int n = count_of(a.in.numel(), "all_gather");
        if (n == 0) return;
        const bool ip = ptr(a.in) == ptr(a.out) + static_cast<int64_t>(rank_) * a.in.nbytes();
        mpi_check(MPI_Allgather(ip ? MPI_IN_PLACE : ptr(a.in), n, dt, ptr(a.out), n, dt, comm_), "MPI_Allgather");
        return;
      }
      case OpType::kReduceScatter: {
        int n = count_of(a.out.numel(), "reduce_scatter");
        if (n == 0) return;
        const bool ip = ptr(a.out) == ptr(a.in) + static_cast<int64_t>(rank_) * a.out.nbytes();
        // MPI puts an in-place result at the buffer's start; NCCL's layout keeps it at chunk r.
        at::Tensor dst = ip ? at::empty_like(a.out) : a.out;
        mpi_check(MPI_Reduce_scatter_block(ptr(a.in), ptr(dst), n, dt, mpi_op(a.reduce, t.scalar_type()), comm_),
                  "MPI_Reduce_scatter_block");
        if (ip) a.out.copy_(dst);
        finish_avg(a.out, a.reduce, size_);
        return;
      }
      case OpType::kBroadcast: {
        int n = count_of(a.out.numel(), "broadcast");
        if (n == 0) return;
        if (rank_ == a.root && !inplace) std::memcpy(ptr(a.out), ptr(a.in), a.in.nbytes());
        mpi_check(MPI_Bcast(ptr(a.out), n, dt, a.root, comm_), "MPI_Bcast");
        return;
      }
      case OpType::kReduce: {
        int n = count_of(a.out.numel(), "reduce");
        if (n == 0) return;
        MPI_Op op = mpi_op(a.reduce, t.scalar_type());
        if (rank_ == a.root) {
          mpi_check(MPI_Reduce(inplace ? MPI_IN_PLACE : ptr(a.in), ptr(a.out), n, dt, op, a.root, comm_), "MPI_Reduce");
          finish_avg(a.out, a.reduce, size_);
        } else {
          mpi_check(MPI_Reduce(ptr(a.in), nullptr, n, dt, op, a.root, comm_), "MPI_Reduce");
        }
        return;
      }
      case OpType::kAllToAll: {
        int n = count_of(a.out.numel() / size_, "all_to_all");
        if (n == 0) return;
        mpi_check(MPI_Alltoall(inplace ? MPI_IN_PLACE : ptr(a.in), n, dt, ptr(a.out), n, dt, comm_), "MPI_Alltoall");
        return;
      }
      case OpType::kAllToAllV: {
        // MPI counts and displacements are ints, in elements.
        std::vector<int> sc, sd, rc, rd;
        int64_t s_off = 0, r_off = 0;
        for (int p = 0; p < size_; ++p) {
          sc.push_back(count_of(a.in_counts[p], "all_to_allv"));
          sd.push_back(count_of(s_off, "all_to_allv"));
          rc.push_back(count_of(a.out_counts[p], "all_to_allv"));
          rd.push_back(count_of(r_off, "all_to_allv"));
          s_off += a.in_counts[p];
          r_off += a.out_counts[p];
        }
        mpi_check(MPI_Alltoallv(ptr(a.in), sc.data(), sd.data(), dt, ptr(a.out), rc.data(), rd.data(), dt, comm_),
                  "MPI_Alltoallv");
        return;
      }
      case OpType::kSend: {
        int n = count_of(a.in.numel(), "send");
        mpi_check(MPI_Send(ptr(a.in), n, dt, a.dst, 0, comm_), "MPI_Send");
        return;
      }
      case OpType::kRecv: {
        int n = count_of(a.out.numel(), "recv");
        mpi_check(MPI_Recv(ptr(a.out), n, dt, a.src, 0, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
        return;
      }
      case OpType::kSendRecv: {
        mpi_check(MPI_Sendrecv(ptr(a.in), count_of(a.in.numel(), "send_recv"), dt, a.dst, 0, ptr(a.out),
                               count_of(a.out.numel(), "send_recv"), dt, a.src, 0, comm_, MPI_STATUS_IGNORE),
                  "MPI_Sendrecv");
        return;
      }
      case OpType::kBarrier:
        mpi_check(MPI_Barrier(comm_), "MPI_Barrier");
        return;
    }
  }

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  std::unique_ptr<OpThread> thread_;
};

}  // namespace

std::unique_ptr<Backend> make_mpi_world_backend() {
  MPI_Comm dup = MPI_COMM_NULL;
  mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &dup), "MPI_Comm_dup");
  return std::make_unique<MpiBackend>(dup);
}

}  // namespace dtbench
