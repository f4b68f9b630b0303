// The first multi-GPU run a user makes: a checked NCCL all_reduce, all_gather and
// reduce_scatter across every local GPU from one process (ncclCommInitAll), bounded by the
// comm timeout, each reporting its bus bandwidth.
#include <fmt/format.h>

#include "benchmarks/env_check/check.h"
#include "core/report/clock.h"

#ifdef DTBENCH_WITH_NCCL
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <numeric>
#endif

namespace dtbench::envcheck {

#ifdef DTBENCH_WITH_NCCL
namespace {

constexpr size_t kCount = 8 << 20;  // floats per rank: 32 MiB
constexpr int kIters = 5;

// Small integers, so sums over eight GPUs stay exact in float.
float pattern(int rank, size_t j) { return static_cast<float>(rank + 1 + static_cast<int>(j % 7)); }

struct Gpus {
  int n;
  std::vector<ncclComm_t> comms;
  std::vector<cudaStream_t> streams;
  std::vector<float*> send, recv;
};

// Waits for every stream until the deadline; false on timeout or a CUDA/NCCL error.
bool wait_all(Gpus& g, double timeout_s, std::string* why) {
  const double deadline = now_s() + timeout_s;
  for (int i = 0; i < g.n; ++i) {
    for (;;) {
      const cudaError_t e = cudaStreamQuery(g.streams[i]);
      if (e == cudaSuccess) break;
      if (e != cudaErrorNotReady) {
        *why = fmt::format("GPU {}: {}", i, cudaGetErrorString(e));
        return false;
      }
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(g.comms[i], &async);
      if (async != ncclSuccess) {
        *why = fmt::format("GPU {}: NCCL {}", i, ncclGetErrorString(async));
        return false;
      }
      if (now_s() > deadline) {
        *why = fmt::format("GPU {} did not finish within {} s", i, timeout_s);
        return false;
      }
    }
  }
  return true;
}

struct Op {
  const char* name;
  size_t send_count, recv_count;  // per GPU
  double busbw_factor;            // nccl-tests' factor for n GPUs
  ncclResult_t (*call)(Gpus&, int);
  float (*expected)(int n, int rank, size_t j);
};

ncclResult_t all_reduce(Gpus& g, int i) {
  return ncclAllReduce(g.send[i], g.recv[i], kCount, ncclFloat, ncclSum, g.comms[i], g.streams[i]);
}
ncclResult_t all_gather(Gpus& g, int i) {
  return ncclAllGather(g.send[i], g.recv[i], kCount / g.n, ncclFloat, g.comms[i], g.streams[i]);
}
ncclResult_t reduce_scatter(Gpus& g, int i) {
  return ncclReduceScatter(g.send[i], g.recv[i], kCount / g.n, ncclFloat, ncclSum, g.comms[i], g.streams[i]);
}
float sum_of(int n, size_t j) {
  float s = 0;
  for (int r = 0; r < n; ++r) s += pattern(r, j);
  return s;
}

Check run_op(Gpus& g, const Op& op, double timeout_s) {
  const int n = g.n;
  const std::string name = fmt::format("nccl {} ({} GPUs)", op.name, n);
  std::vector<float> host(std::max(op.send_count, op.recv_count));
  for (int i = 0; i < n; ++i) {
    for (size_t j = 0; j < op.send_count; ++j) host[j] = pattern(i, j);
    cudaSetDevice(i);
    cudaMemcpy(g.send[i], host.data(), op.send_count * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemset(g.recv[i], 0xff, op.recv_count * sizeof(float));
  }
  std::string why;
  auto launch = [&] {
    ncclGroupStart();
    for (int i = 0; i < n; ++i) op.call(g, i);
    return ncclGroupEnd();
  };
  if (launch() != ncclSuccess || !wait_all(g, timeout_s, &why)) return fail(name, nullptr, "failed: " + why);
  int64_t wrong = 0;
  for (int i = 0; i < n; ++i) {
    cudaSetDevice(i);
    cudaMemcpy(host.data(), g.recv[i], op.recv_count * sizeof(float), cudaMemcpyDeviceToHost);
    for (size_t j = 0; j < op.recv_count; ++j) wrong += host[j] != op.expected(n, i, j);
  }
  const double t0 = now_s();
  for (int it = 0; it < kIters; ++it) launch();
  if (!wait_all(g, timeout_s, &why)) return fail(name, nullptr, "failed: " + why);
  const double t = (now_s() - t0) / kIters;
  const double bytes = static_cast<double>(std::max(op.send_count, op.recv_count)) * sizeof(float);
  const double busbw = bytes / t / 1e9 * op.busbw_factor;
  nlohmann::json value = {{"wrong", wrong}, {"busbw_gbps", busbw}, {"bytes", bytes}};
  if (wrong > 0) return fail(name, value, fmt::format("{} wrong elements", wrong));
  return ok(name, value, fmt::format("busbw {:.1f} GB/s at {:.0f} MiB", busbw, bytes / (1 << 20)));
}

}  // namespace
#endif

void run_gpu_collectives(const Facts& f, double timeout_s, std::vector<Check>& out) {
#ifdef DTBENCH_WITH_NCCL
  if (f.gpus == 0) {
    out.push_back(warn("nccl collectives", "skipped", "no GPU visible"));
    return;
  }
  Gpus g;
  g.n = f.gpus;
  std::vector<int> devs(g.n);
  std::iota(devs.begin(), devs.end(), 0);
  g.comms.resize(g.n);
  if (ncclCommInitAll(g.comms.data(), g.n, devs.data()) != ncclSuccess) {
    out.push_back(fail("nccl collectives", nullptr, "ncclCommInitAll failed across the local GPUs"));
    return;
  }
  g.streams.resize(g.n);
  g.send.resize(g.n);
  g.recv.resize(g.n);
  for (int i = 0; i < g.n; ++i) {
    cudaSetDevice(i);
    cudaStreamCreateWithFlags(&g.streams[i], cudaStreamNonBlocking);
    cudaMalloc(&g.send[i], kCount * sizeof(float));
    cudaMalloc(&g.recv[i], kCount * sizeof(float));
  }
  const int n = g.n;
  const size_t chunk = kCount / n;
  const Op ops[] = {
      {"all_reduce", kCount, kCount, 2.0 * (n - 1) / n, all_reduce,
       [](int nn, int, size_t j) { return sum_of(nn, j); }},
      {"all_gather", chunk, chunk * n, static_cast<double>(n - 1) / n, all_gather,
       [](int nn, int, size_t j) { return pattern(static_cast<int>(j / (kCount / nn)), j % (kCount / nn)); }},
      {"reduce_scatter", chunk * n, chunk, static_cast<double>(n - 1) / n, reduce_scatter,
       [](int nn, int rank, size_t j) { return sum_of(nn, rank * (kCount / nn) + j); }},
  };
  bool healthy = true;
  for (const Op& op : ops) {
    out.push_back(run_op(g, op, timeout_s));
    if (out.back().verdict == "fail" && out.back().value.is_null()) healthy = false;
  }
  for (int i = 0; i < g.n; ++i) {
    cudaSetDevice(i);
    cudaFree(g.send[i]);
    cudaFree(g.recv[i]);
    healthy ? ncclCommDestroy(g.comms[i]) : ncclCommAbort(g.comms[i]);
  }
#else
  out.push_back(warn("nccl collectives", "skipped", "built without CUDA"));
#endif
}

}  // namespace dtbench::envcheck
