#include "core/layers/expert_parallel.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <numeric>

#include "core/comm/communicator.h"
#include "core/comm/wait_timer.h"

namespace dtbench {

int64_t ExpertParallel::size() const { return comm ? comm->size() : 1; }
int64_t ExpertParallel::rank() const { return comm ? comm->rank() : 0; }

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::unique_ptr<WaitTimer>& exchange_timer() {
  static std::unique_ptr<WaitTimer> timer;
  return timer;
}

void timed_wait(const std::shared_ptr<Work>& work, at::Device device) {
  if (!exchange_timer()) exchange_timer() = std::make_unique<WaitTimer>(device);
  exchange_timer()->time([&] { work->wait(); });
}

at::Tensor move_rows(const at::Tensor& x, const std::vector<int64_t>& send_rows, const std::vector<int64_t>& recv_rows,
                     Communicator& comm) {
  const at::Tensor in = x.contiguous();
  const int64_t row = x.dim() > 1 ? in.numel() / std::max<int64_t>(1, x.size(0)) : 1;
  std::vector<int64_t> in_counts, out_counts;
  for (int64_t r : send_rows) in_counts.push_back(r * row);
  for (int64_t r : recv_rows) out_counts.push_back(r * row);
  auto sizes = x.sizes().vec();
  sizes[0] = std::accumulate(recv_rows.begin(), recv_rows.end(), int64_t{0});
  at::Tensor out = at::empty(sizes, in.options());
  timed_wait(comm.all_to_all(in.view({-1}), out.view({-1}), std::move(in_counts), std::move(out_counts)),
             comm.device());
  return out;
}

struct ExchangeRows : torch::autograd::Function<ExchangeRows> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const std::vector<int64_t>& send_rows,
                            const std::vector<int64_t>& recv_rows, Communicator* comm) {
    ctx->saved_data["comm"] = reinterpret_cast<int64_t>(comm);
    ctx->saved_data["send"] = send_rows;
    ctx->saved_data["recv"] = recv_rows;
    return move_rows(x, send_rows, recv_rows, *comm);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    auto* comm = reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
    const std::vector<int64_t> send = ctx->saved_data["send"].toIntVector();
    const std::vector<int64_t> recv = ctx->saved_data["recv"].toIntVector();
    return {move_rows(g[0], recv, send, *comm), {}, {}, {}};
  }
};

}  // namespace

at::Tensor exchange_rows(const at::Tensor& x, const std::vector<int64_t>& send_rows,
                         const std::vector<int64_t>& recv_rows, Communicator& comm) {
  return ExchangeRows::apply(x, send_rows, recv_rows, &comm);
}

double expert_exchange_s() { return exchange_timer() ? exchange_timer()->total_s() : 0.0; }

std::vector<int64_t> exchange_counts(const std::vector<int64_t>& counts, Communicator& comm) {
  const at::Tensor host = at::tensor(counts, at::kLong);
  const at::Tensor in = host.to(comm.device());
  at::Tensor out = at::empty_like(in);
  timed_wait(comm.all_to_all(in, out), comm.device());
  const at::Tensor back = out.cpu();
  return {back.data_ptr<int64_t>(), back.data_ptr<int64_t>() + back.numel()};
}

}  // namespace dtbench
