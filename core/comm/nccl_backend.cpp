// The nccl backend. Ops are enqueued on the communicator's own stream, after the stream
// that was current when they were issued; Work::wait() makes the then-current stream wait
// for the op's event, so the host never blocks. The communicator is non-blocking: every
// call may answer ncclInProgress, and we poll ncclCommGetAsyncError until it settles.
#include <ATen/ATen.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>
#include <thread>

#include "core/comm/nccl_world.h"
#include "core/comm/watchdog.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/system_info.h"

namespace dtbench {

namespace {

void cuda_ok(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) throw RuntimeFailure(fmt::format("{} failed: {}", what, cudaGetErrorString(rc)));
}

// Waits until a non-blocking communicator has settled; throws on error or past the deadline.
void settle(ncclComm_t comm, ncclResult_t rc, const char* what, double timeout_s) {
  const double deadline = now_s() + timeout_s;
  while (rc == ncclInProgress) {
    if (now_s() > deadline)
      throw RuntimeFailure(fmt::format("{} did not complete within --comm-timeout {:g} s", what, timeout_s));
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    ncclCommGetAsyncError(comm, &rc);
  }
  if (rc != ncclSuccess)
    throw RuntimeFailure(fmt::format("{} failed: {} ({})", what, ncclGetErrorString(rc), ncclGetLastError(comm)));
}

ncclDataType_t nccl_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return ncclFloat32;
    case at::kDouble:
      return ncclFloat64;
    case at::kHalf:
      return ncclFloat16;
    case at::kBFloat16:
      return ncclBfloat16;
    case at::kInt:
      return ncclInt32;
    case at::kLong:
      return ncclInt64;
    case at::kByte:
      return ncclUint8;
    case at::kChar:
      return ncclInt8;
    default:
      throw RuntimeFailure(fmt::format("the nccl backend has no type for {}", c10::toString(t)));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kAvg:
      return ncclAvg;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
    case ReduceOp::kProd:
      return ncclProd;
  }
  return ncclSum;
}

// Events of finished ops come back for the next ones: creating and destroying one per op
// (cudaEventCreate) costs small messages measurably, where nccl-tests creates none per op.
class EventPool {
 public:
  ~EventPool() {
    for (cudaEvent_t e : free_) cudaEventDestroy(e);
  }
  cudaEvent_t get() {
    {
      const std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        cudaEvent_t e = free_.back();
        free_.pop_back();
        return e;
      }
    }
    cudaEvent_t e = nullptr;
    cuda_ok(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    return e;
  }
  void put(cudaEvent_t e) {
    const std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(e);
  }

 private:
  std::mutex mu_;
  std::vector<cudaEvent_t> free_;
};

class CudaWork final : public Work {
 public:
  CudaWork(cudaEvent_t ev, c10::DeviceIndex device, std::shared_ptr<EventPool> pool)
      : ev_(ev), device_(device), pool_(std::move(pool)) {}
  ~CudaWork() override { pool_->put(ev_); }
  bool is_completed() override {
    // The watchdog's thread asks too: with no device of its own it would open a context on
    // GPU 0. It gets this rank's device, for good (it only ever talks to this rank's GPU).
    set_cuda_device(device_);
    return cudaEventQuery(ev_) != cudaErrorNotReady;
  }
  void wait() override {
    c10::cuda::CUDAGuard g(device_);
    cuda_ok(cudaStreamWaitEvent(c10::cuda::getCurrentCUDAStream(device_).stream(), ev_, 0), "cudaStreamWaitEvent");
  }
  void synchronize() override { cuda_ok(cudaEventSynchronize(ev_), "cudaEventSynchronize"); }

 private:
  cudaEvent_t ev_;
  c10::DeviceIndex device_;
  std::shared_ptr<EventPool> pool_;
};

class NcclBackend final : public Backend {
 public:
  NcclBackend(ncclComm_t comm, int device, double timeout_s)
      : comm_(comm),
        device_(static_cast<c10::DeviceIndex>(device)),
        timeout_s_(timeout_s),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device_)) {
    ncclCommUserRank(comm_, &rank_);
    ncclCommCount(comm_, &size_);
    abort_id_ = Watchdog::instance().add_abort_hook([c = comm_](int) { ncclCommAbort(c); });
    health_id_ = Watchdog::instance().add_health_check([c = comm_, d = device_]() -> std::optional<std::string> {
      set_cuda_device(d);  // the watchdog's thread, as in CudaWork::is_completed
      ncclResult_t rc = ncclSuccess;
      ncclCommGetAsyncError(c, &rc);
      if (rc == ncclSuccess || rc == ncclInProgress) return std::nullopt;
      return fmt::format("NCCL reported an asynchronous error: {} ({})", ncclGetErrorString(rc), ncclGetLastError(c));
    });
  }
  ~NcclBackend() override {
    // First no watchdog check or abort hook may touch the communicator (remove waits for
    // calls in progress), then it is finalized: on this non-blocking communicator that answers
    // ncclInProgress until its operations and proxies are done, and only then may it be
    // destroyed. An error, or no end within the comm timeout (60 s at most), aborts it instead.
    Watchdog::instance().remove_health_check(health_id_);
    Watchdog::instance().remove_abort_hook(abort_id_);
    set_cuda_device(device_);
    ncclResult_t rc = ncclCommFinalize(comm_);
    const double deadline = now_s() + std::min(timeout_s_, 60.0);
    while (rc == ncclInProgress && now_s() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      ncclCommGetAsyncError(comm_, &rc);
    }
    if (rc == ncclSuccess) {
      rc = ncclCommDestroy(comm_);
      if (rc != ncclSuccess) std::fprintf(stderr, "dtbench: warning: ncclCommDestroy: %s\n", ncclGetErrorString(rc));
      return;
    }
    std::fprintf(stderr, "dtbench: warning: NCCL communicator shutdown: %s; aborting it\n",
                 rc == ncclInProgress ? "ncclCommFinalize did not finish in time" : ncclGetErrorString(rc));
    ncclCommAbort(comm_);
  }

  const char* name() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  at::Device device() const override { return {at::kCUDA, device_}; }

  std::shared_ptr<Work> start(OpArgs a) override {
    c10::cuda::CUDAGuard guard(device_);
    cudaStream_t s = stream_.stream();
    // NCCL has no in-place all_to_all: send from a copy, made on the issuing stream.
    if (a.type == OpType::kAllToAll && a.in.data_ptr() == a.out.data_ptr()) a.in = a.in.clone();
    // The communication stream starts after what the issuing stream has queued so far.
    // (cudaStreamWaitEvent takes the event as recorded now: the pool may hand it out again.)
    cudaEvent_t ready = events_->get();
    cuda_ok(cudaEventRecord(ready, c10::cuda::getCurrentCUDAStream(device_).stream()), "cudaEventRecord");
    cuda_ok(cudaStreamWaitEvent(s, ready, 0), "cudaStreamWaitEvent");
    events_->put(ready);
    for (const at::Tensor* t : {&a.in, &a.out})
      if (t->defined() && t->numel() > 0)
        c10::cuda::CUDACachingAllocator::recordStream(t->storage().data_ptr(), stream_);
    enqueue(a, s);
    cudaEvent_t done = events_->get();
    cuda_ok(cudaEventRecord(done, s), "cudaEventRecord");
    return std::make_shared<CudaWork>(done, device_, events_);
  }

  std::unique_ptr<Backend> split(int color, int key) override {
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclComm_t child = nullptr;
    ncclResult_t rc = ncclCommSplit(comm_, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &child, &config);
    settle(comm_, rc, "ncclCommSplit", timeout_s_);
    if (color < 0 || child == nullptr) return nullptr;
    ncclResult_t crc = ncclInProgress;
    ncclCommGetAsyncError(child, &crc);
    settle(child, crc, "ncclCommSplit (child)", timeout_s_);
    return std::make_unique<NcclBackend>(child, device_, timeout_s_);
  }

 private:
  void enqueue(const OpArgs& a, cudaStream_t s) {
    const at::Tensor& t = a.out.defined() ? a.out : a.in;
    ncclDataType_t dt = t.defined() ? nccl_type(t.scalar_type()) : ncclUint8;
    ncclResult_t rc = ncclSuccess;
    switch (a.type) {
      case OpType::kAllReduce:
        rc = ncclAllReduce(a.in.data_ptr(), a.out.data_ptr(), a.out.numel(), dt, nccl_op(a.reduce), comm_, s);
        break;
      case OpType::kAllGather:
        rc = ncclAllGather(a.in.data_ptr(), a.out.data_ptr(), a.in.numel(), dt, comm_, s);
        break;
      case OpType::kReduceScatter:
        rc = ncclReduceScatter(a.in.data_ptr(), a.out.data_ptr(), a.out.numel(), dt, nccl_op(a.reduce), comm_, s);
        break;
      case OpType::kBroadcast:
        rc = ncclBroadcast(a.in.data_ptr(), a.out.data_ptr(), a.out.numel(), dt, a.root, comm_, s);
        break;
      case OpType::kReduce:
        rc = ncclReduce(a.in.data_ptr(), a.out.data_ptr(), a.out.numel(), dt, nccl_op(a.reduce), a.root, comm_, s);
        break;
      case OpType::kAllToAll: {
        const int64_t n = a.out.numel() / size_;
        const int64_t bytes = n * static_cast<int64_t>(a.out.element_size());
        auto* in = static_cast<char*>(a.in.data_ptr());
        auto* out = static_cast<char*>(a.out.data_ptr());
        ncclGroupStart();
        for (int p = 0; p < size_; ++p) {
          ncclSend(in + p * bytes, n, dt, p, comm_, s);
          ncclRecv(out + p * bytes, n, dt, p, comm_, s);
        }
        rc = ncclGroupEnd();
        break;
      }
      case OpType::kAllToAllV: {
        // Grouped send/recv at each peer's offset (elements), as nccl-tests' alltoallv does.
        const auto elem = static_cast<int64_t>(a.out.element_size());
        auto* in = static_cast<char*>(a.in.data_ptr());
        auto* out = static_cast<char*>(a.out.data_ptr());
        int64_t s_off = 0, r_off = 0;
        ncclGroupStart();
        for (int p = 0; p < size_; ++p) {
          ncclSend(in + s_off * elem, static_cast<std::size_t>(a.in_counts[p]), dt, p, comm_, s);
          ncclRecv(out + r_off * elem, static_cast<std::size_t>(a.out_counts[p]), dt, p, comm_, s);
          s_off += a.in_counts[p];
          r_off += a.out_counts[p];
        }
        rc = ncclGroupEnd();
        break;
      }
      case OpType::kSend:
        rc = ncclSend(a.in.data_ptr(), a.in.numel(), dt, a.dst, comm_, s);
        break;
      case OpType::kRecv:
        rc = ncclRecv(a.out.data_ptr(), a.out.numel(), dt, a.src, comm_, s);
        break;
      case OpType::kSendRecv:
        ncclGroupStart();
        ncclSend(a.in.data_ptr(), a.in.numel(), dt, a.dst, comm_, s);
        ncclRecv(a.out.data_ptr(), a.out.numel(), dt, a.src, comm_, s);
        rc = ncclGroupEnd();
        break;
      case OpType::kBarrier: {
        // NCCL has no barrier: a one-element all_reduce on a scratch buffer.
        if (!scratch_.defined())
          scratch_ = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA, device_));
        rc = ncclAllReduce(scratch_.data_ptr(), scratch_.data_ptr(), 1, ncclFloat32, ncclSum, comm_, s);
        break;
      }
    }
    settle(comm_, rc, op_name(a.type), timeout_s_);
  }

  ncclComm_t comm_;
  c10::DeviceIndex device_;
  double timeout_s_;
  c10::cuda::CUDAStream stream_;
  int rank_ = 0, size_ = 1;
  int abort_id_ = 0, health_id_ = 0;
  at::Tensor scratch_;
  std::shared_ptr<EventPool> events_ = std::make_shared<EventPool>();
};

}  // namespace

void set_cuda_device(int device) { c10::cuda::set_device(static_cast<c10::DeviceIndex>(device)); }

void record_gpu_info(int device) {
  cudaDeviceProp prop{};
  int driver = 0, runtime = 0;
  cuda_ok(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  set_system_info("gpu", {{"name", prop.name},
                          {"memory_bytes", prop.totalGlobalMem},
                          {"sm", fmt::format("{}.{}", prop.major, prop.minor)}});
  set_system_info("driver_cuda", fmt::format("{}.{}", driver / 1000, driver % 1000 / 10));
  set_system_info("cuda", fmt::format("{}.{}", runtime / 1000, runtime % 1000 / 10));
}

void nccl_check_library() {
  int loaded = 0;
  ncclGetVersion(&loaded);
  Dl_info info{};
  std::string path = dladdr(reinterpret_cast<void*>(&ncclGetVersion), &info) && info.dli_fname ? info.dli_fname : "?";
  set_system_info("nccl", {{"version", fmt::format("{}.{}.{}", loaded / 10000, loaded / 100 % 100, loaded % 100)},
                           {"headers", fmt::format("{}.{}.{}", NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH)},
                           {"library", path}});
  if (loaded / 10000 != NCCL_MAJOR || loaded < NCCL_VERSION_CODE)
    throw UsageError(
        fmt::format("libnccl {} at {} is older than the headers dtbench was built with ({}.{}.{}); "
                    "put the wheel's nvidia/nccl/lib first on LD_LIBRARY_PATH",
                    loaded, path, NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH));
}

std::unique_ptr<Backend> make_nccl_world_backend(ControlPlane& control, int device, double timeout_s) {
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
  ncclUniqueId id;
  std::string mine;
  if (control.rank() == 0) {
    ncclResult_t rc = ncclGetUniqueId(&id);
    if (rc != ncclSuccess) throw RuntimeFailure(fmt::format("ncclGetUniqueId failed: {}", ncclGetErrorString(rc)));
    mine.assign(reinterpret_cast<const char*>(&id), sizeof id);
  }
  auto all = control.all_gather(mine);
  DT_CHECK(all[0].size() == sizeof id, "the ncclUniqueId from rank 0 has {} bytes, want {}", all[0].size(), sizeof id);
  std::memcpy(&id, all[0].data(), sizeof id);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t comm = nullptr;
  ncclResult_t rc = ncclCommInitRankConfig(&comm, control.size(), id, control.rank(), &config);
  if (comm == nullptr) throw RuntimeFailure(fmt::format("ncclCommInitRankConfig failed: {}", ncclGetErrorString(rc)));
  settle(comm, rc, "ncclCommInitRankConfig", timeout_s);
  return std::make_unique<NcclBackend>(comm, device, timeout_s);
}

}  // namespace dtbench
