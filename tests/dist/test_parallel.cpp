// The parallel pieces alone, on the ranks mpirun started (2, 3 and 4): the distributed
// optimizer's ranges and its gather, the pipeline driver against one process's loss and
// gradients (1F1B and interleaved), and the tensor-parallel layers against the plain ones.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/data/token_source.h"
#include "core/layers/linear.h"
#include "core/layers/tensor_parallel.h"
#include "core/model/transformer.h"
#include "core/parallel/megatron/distributed_optimizer.h"
#include "core/parallel/pipeline/pipeline_driver.h"
#include "tests/dist/world_fixture.h"

using namespace dtbench;

namespace {

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// One replica: the pipeline's gradients need no reduction.
struct OneReplica final : ChunkGradients {
  void before_chunk_backward(int64_t, bool) override {}
  void finish_step() override {}
};

}  // namespace

TEST_CASE("distributed optimizer: ranges tile every parameter once, and after the update every rank holds all") {
  Communicator& w = test::comm();
  // Odd sizes: the shards split inside tensors and the last one is padded.
  const std::vector<int64_t> sizes{7, 13, 1, 29, 5};
  std::vector<at::Tensor> params;
  std::vector<TrainTensor> whole;
  std::map<std::string, int64_t> offset_of;
  int64_t total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    at::Tensor p = (at::arange(sizes[i], at::kFloat) + 100.0 * static_cast<double>(i)).requires_grad_(true);
    p.mutable_grad() = at::arange(sizes[i], at::kFloat) * 0.5 + static_cast<double>(i);
    params.push_back(p);
    const std::string name = "p" + std::to_string(i);
    whole.push_back({name, p, {sizes[i]}, 0, i % 2 == 0});
    offset_of[name] = total;
    total += sizes[i];
  }
  std::vector<at::Tensor> expected;
  for (auto& p : params) expected.push_back(p.detach() - 0.25 * p.grad());

  DistributedOptimizer opt(whole, w, &w);
  CHECK(opt.shard_elements() == (total + w.size() - 1) / w.size());
  const std::vector<TrainTensor> mine = opt.tensors();
  const std::vector<at::Tensor> grads = opt.grads();
  REQUIRE(grads.size() == mine.size());
  at::Tensor cover = at::zeros({total}, at::kFloat);
  for (std::size_t k = 0; k < mine.size(); ++k) {
    const TrainTensor& t = mine[k];
    const std::size_t i = static_cast<std::size_t>(std::stoi(t.name.substr(1)));
    cover.narrow(0, offset_of[t.name] + t.start, t.value.numel()) += 1;
    CHECK(t.writer == whole[i].writer);  // every replica writes its own ranges
    CHECK(t.shape == whole[i].shape);
    CHECK(at::equal(grads[k], params[i].grad().narrow(0, t.start, t.value.numel())));
  }
  w.all_reduce(cover, ReduceOp::kSum)->wait();
  CHECK(at::equal(cover, at::ones({total}, at::kFloat)));

  {  // the optimizer updates this rank's ranges only
    at::NoGradGuard no_grad;
    for (std::size_t k = 0; k < mine.size(); ++k) mine[k].value.sub_(0.25 * grads[k]);
  }
  opt.after_update();
  for (std::size_t i = 0; i < params.size(); ++i) CHECK(at::equal(params[i].detach(), expected[i]));
}

TEST_CASE("pipeline driver: 1F1B and interleaved stages give one process's loss and gradients") {
  Communicator& w = test::comm();
  const int64_t pp = w.size(), r = w.rank(), seq = 16, micro_batch = 2, m = 2 * pp;
  for (const int64_t vp : {1, 2}) {
    CAPTURE(vp);
    ModelConfig c = find_model("tiny");
    c.layers = 2 * pp * vp;  // two layers per chunk
    auto data = open_token_source("synthetic", c.vocab, seq, 5);
    const auto tokens = [&](int64_t micro) { return data->samples(micro * micro_batch, micro_batch); };
    const double divisor = static_cast<double>(m * micro_batch * seq);

    Transformer ref(c);
    initialize_parameters(*ref, 7);
    double ref_loss = 0;
    for (int64_t micro = 0; micro < m; ++micro) {
      const at::Tensor loss = ref->loss_sum(tokens(micro));
      ref_loss += loss.item<double>();
      (loss / divisor).backward();
    }

    std::vector<Transformer> chunks;
    std::vector<TransformerImpl*> raw;
    const int64_t per_chunk = c.layers / (pp * vp);
    for (int64_t k = 0; k < vp; ++k) {
      const int64_t virtual_stage = k * pp + r;
      ModelPart part;
      part.first_layer = virtual_stage * per_chunk;
      part.layers = per_chunk;
      part.first = virtual_stage == 0;
      part.last = virtual_stage == pp * vp - 1;
      chunks.push_back(Transformer(c, TensorParallel{}, part));
      initialize_parameters(*chunks.back(), 7);
      raw.push_back(chunks.back().get());
    }
    OneReplica none;
    PipelineDriver driver(raw, w, none, micro_batch, seq, 1);
    const double loss = driver.forward_backward(m, tokens, divisor);
    if (r == pp - 1) {
      CHECK(std::abs(loss - ref_loss) <= 1e-5 * std::abs(ref_loss));
    } else {
      CHECK(loss == 0);
    }
    double largest = 0;
    for (auto& p : ref->parameters()) largest = std::max(largest, p.grad().abs().max().item<double>());
    const auto ref_params = ref->named_parameters();
    int64_t compared = 0;
    for (auto& chunk : chunks)
      for (auto& item : chunk->named_parameters()) {
        CAPTURE(chunk->global_name(item.key()));
        const at::Tensor& want = ref_params[chunk->global_name(item.key())].grad();
        REQUIRE(item.value().grad().defined());
        CHECK(max_abs_diff(item.value().grad(), want) <= 1e-5 * largest);
        ++compared;
      }
    CHECK(compared > 0);
    const nlohmann::json figures = driver.metrics(1.0);
    CHECK(figures["pipeline_bubble_ideal"].get<double>() ==
          Approx(static_cast<double>(pp - 1) / static_cast<double>(vp * m + pp - 1)));
  }
}

TEST_CASE("tensor-parallel layers: column- then row-parallel linear equal the plain layers, with and without sp") {
  Communicator& w = test::comm();
  const int64_t n = w.size(), r = w.rank(), batch = 2, seq = 2 * n, in = 6, mid = 4 * n, out = 5;
  for (const bool sp : {false, true}) {
    CAPTURE(sp);
    const TensorParallel tp{&w, sp};
    Linear plain_a(in, mid, true), plain_b(mid, out, true);
    Linear col(in, mid, true, Split::kColumn, tp), row(mid, out, true, Split::kRow, tp);
    {
      at::NoGradGuard no_grad;
      plain_a->weight.copy_(at::sin(at::arange(mid * in, at::kFloat)).view({mid, in}));
      plain_a->bias.copy_(at::cos(at::arange(mid, at::kFloat)));
      plain_b->weight.copy_(at::cos(at::arange(out * mid, at::kFloat) * 0.3).view({out, mid}));
      plain_b->bias.copy_(at::sin(at::arange(out, at::kFloat) * 0.7));
      col->weight.copy_(plain_a->weight.narrow(0, r * (mid / n), mid / n));
      col->bias.copy_(plain_a->bias.narrow(0, r * (mid / n), mid / n));
      row->weight.copy_(plain_b->weight.narrow(1, r * (mid / n), mid / n));
      row->bias.copy_(plain_b->bias);
    }
    const at::Tensor x = at::sin(at::arange(batch * seq * in, at::kFloat) * 0.1).view({batch, seq, in});
    const at::Tensor x_plain = x.clone().requires_grad_(true);
    // A nonlinearity between the two (elementwise, so the column split commutes with it).
    const auto act = [](const at::Tensor& a) { return a * a; };
    const at::Tensor y_plain = plain_b(act(plain_a(x_plain)));
    (y_plain * y_plain).sum().backward();

    // With sequence parallelism each rank enters with its chunk of the sequence.
    const at::Tensor x_mine = (sp ? x.narrow(1, r * (seq / n), seq / n) : x).clone().requires_grad_(true);
    const at::Tensor h = act(col(enter_parallel_region(x_mine, tp)));
    const at::Tensor y = row->add_bias(exit_parallel_region(row(h), tp));
    const at::Tensor y_want = sp ? y_plain.narrow(1, r * (seq / n), seq / n) : y_plain;
    CHECK(max_abs_diff(y, y_want.detach()) <= 1e-5);
    // Every rank differentiates its output (the whole one, replicated; its chunk under sp);
    // entering the region all-reduces (or reduce-scatters) the input's gradient.
    (y * y).sum().backward();
    const at::Tensor& dx = x_mine.grad();
    const at::Tensor dx_want = sp ? x_plain.grad().narrow(1, r * (seq / n), seq / n) : x_plain.grad();
    CHECK(max_abs_diff(dx, dx_want) <= 1e-4);
    CHECK(max_abs_diff(col->weight.grad(), plain_a->weight.grad().narrow(0, r * (mid / n), mid / n)) <= 1e-4);
    CHECK(max_abs_diff(row->weight.grad(), plain_b->weight.grad().narrow(1, r * (mid / n), mid / n)) <= 1e-4);
    // The replicated bias: a partial sum under sp (the strategy sums it over the group).
    at::Tensor db = row->bias.grad().clone();
    if (sp) w.all_reduce(db, ReduceOp::kSum)->wait();
    CHECK(max_abs_diff(db, plain_b->bias.grad()) <= 1e-4);
  }
}
