// megatron_gpt: Megatron-LM style training of a GPT or Llama: tensor parallelism (--tp,
// with sequence parallelism --sp), pipeline parallelism (--pp, 1F1B over the step's
// micro-batches) and data parallelism on the tp x pp x dp process grid; prints Megatron's
// iteration line and, with --pp, the measured pipeline bubble beside the ideal.
//   launch/mpirun-local 4 build/benchmarks/megatron_gpt --model tiny_gpt --tp 2 --sp --global-batch 8
//   launch/mpirun-local 2 build/benchmarks/megatron_gpt --model tiny --pp 2 --global-batch 8
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "core/comm/process_grid.h"
#include "core/parallel/ddp/ddp.h"
#include "core/parallel/pipeline/pipeline.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/train/train_main.h"

using namespace dtbench;

namespace {

// Gradients: averaged over the data-parallel group (DDP buckets during backward); with
// sequence parallelism the replicated parameters' gradients are partial sums over the
// tensor-parallel group's sequence chunks and are summed over it once per step; with tied
// embeddings split over pipeline stages, the first stage's embedding and the last stage's
// copy (for the head) sum their gradients. With pipeline stages the step's micro-batches
// run under the 1F1B schedule, or the interleaved one with --vp chunks per stage.
class MegatronGradSync final : public GradSync {
 public:
  // `chunks`: this rank's model chunks (one, or --vp of them for the interleaved schedule).
  MegatronGradSync(std::vector<TransformerImpl*> chunks, ProcessGrid& grid, Communicator& world, bool sp,
                   bool distributed_optimizer)
      : chunks_(std::move(chunks)), grid_(grid), world_(world), distributed_(distributed_optimizer && grid.dp > 1) {
    for (TransformerImpl* model : chunks_) {
      const bool tied_copy = grid.pp > 1 && model->config().tied_embeddings && !model->part().first;
      for (auto& item : model->named_parameters()) {
        const Sharding& s = model->shardings().at(item.key());
        params_.push_back(item.value());
        // Checkpoints hold the whole parameter: this rank's block is a range of its rows (dim
        // 0) or a block of its columns (dim 1, row-parallel weights).
        TrainTensor t{model->global_name(item.key()), item.value(), s.shape, 0};
        if (s.dim == 0) t.start = s.offset * (item.value().numel() / std::max<int64_t>(1, item.value().size(0)));
        if (s.dim == 1) t.block = {s.shape[1], s.offset, item.value().size(1)};
        // A tensor replicated over the tp group counts once in it; the head's embedding copy not at all.
        t.in_norm = (s.dim >= 0 || grid.tp_rank == 0) && !(tied_copy && item.key() == "embed.weight");
        // Written once: by one tp rank if replicated, never from the copy; by dp rank 0, or by
        // every dp rank for its range under the distributed optimizer (shard_over_dp).
        tp_writer_.push_back(t.in_norm);
        t.writer = t.in_norm && grid.dp_rank == 0;
        tensors_.push_back(t);
        if (s.dim < 0 && sp && grid.tp > 1) tp_summed_.push_back(params_.size() - 1);
        if (grid.pp > 1 && model->config().tied_embeddings && item.key() == "embed.weight") embed_ = params_.size() - 1;
      }
      ddp_.push_back(std::make_unique<DistributedDataParallel>(*model, *grid.dp_comm));
    }
    if (distributed_) shard_over_dp();
  }
  std::vector<TrainTensor> tensors() override { return distributed_ ? owned_ : tensors_; }
  void zero_grads() override {
    for (auto& p : params_) p.mutable_grad() = at::Tensor();
  }
  void prepare_backward(bool sync) override {
    sync_ = sync;
    ddp_[0]->prepare_backward(sync);
  }
  void finish_backward() override {
    ddp_[0]->finish_backward();
    if (sync_) sum_partial_grads();
  }
  std::vector<at::Tensor> grads() override {
    std::vector<at::Tensor> g;
    if (distributed_) {
      for (const Owned& o : owned_ranges_) g.push_back(params_[o.param].grad().view({-1}).narrow(0, o.start, o.count));
    } else {
      for (auto& p : params_) g.push_back(p.grad());
    }
    return g;
  }
  // The distributed optimizer's ranks updated disjoint ranges: gather them everywhere.
  void after_step() override {
    if (!distributed_) return;
    at::NoGradGuard no_grad;
    at::Tensor mine = at::zeros({shard_}, params_.front().options());
    for (std::size_t k = 0; k < owned_ranges_.size(); ++k) {
      const Owned& o = owned_ranges_[k];
      mine.narrow(0, o.flat - grid_.dp_rank * shard_, o.count).copy_(owned_[k].value);
    }
    at::Tensor all = at::empty({shard_ * grid_.dp}, mine.options());
    grid_.dp_comm->all_gather(mine, all)->wait();
    int64_t offset = 0;
    for (auto& p : params_) {
      p.view({-1}).copy_(all.narrow(0, offset, p.numel()));
      offset += p.numel();
    }
  }
  // With the distributed optimizer a rank's slices are disjoint across dp too: the norm
  // spans every rank.
  Communicator* norm_comm() override { return distributed_ ? &world_ : grid_.mp_comm.get(); }
  int64_t dp_rank(Communicator&) const override { return grid_.dp_rank; }
  Communicator* dp_comm() override { return grid_.data_comm.get(); }

  bool schedules_micro_batches() const override { return grid_.pp > 1; }
  double forward_backward(Trainable& task, const BatchLayout& layout, int64_t step, int64_t dp_rank,
                          double divisor) override {
    const int64_t m = layout.accumulation, v = static_cast<int64_t>(chunks_.size());
    double loss_sum = 0, compute_s = 0;
    // One chunk's forward: embed on the model's first chunk, the loss on its last.
    auto forward = [&](int64_t chunk, int64_t micro, const at::Tensor& input) {
      const Stopwatch clock;
      TransformerImpl& model = *chunks_[static_cast<std::size_t>(chunk)];
      const at::Tensor batch = task.batch(layout.first_sample(step, dp_rank, micro), layout.micro_batch);
      const int64_t t = batch.size(1) - 1;
      at::Tensor x = model.part().first ? model.embed_tokens(batch.narrow(1, 0, t)) : input;
      x = model.run_blocks(x);
      if (model.part().last) {
        const at::Tensor loss = model.head_loss_sum(x, batch.narrow(1, 1, t));
        loss_sum += loss.item<double>();
        x = loss / divisor;
      }
      compute_s += clock.elapsed_s();
      return x;
    };
    Stopwatch backward_clock;
    const int64_t seq = task.terms_per_sample();
    const int64_t sp = chunks_[0]->tensor_parallel().sequence_parallel ? grid_.tp : 1;
    const std::vector<int64_t> shape{layout.micro_batch, seq / sp, chunks_[0]->config().hidden};
    const auto options = params_.front().options().requires_grad(false);
    if (v == 1) {
      PipelineStage stage;
      stage.forward = [&](int64_t micro, const at::Tensor& input) { return forward(0, micro, input); };
      stage.before_backward = [&](int64_t, bool final) {
        ddp_[0]->prepare_backward(final);
        backward_clock.reset();
      };
      stage.after_backward = [&](int64_t) { compute_s += backward_clock.elapsed_s(); };
      stage.activation_shape = shape;
      stage.activation_options = options;
      run_pipeline(*grid_.pp_comm, one_f_one_b(grid_.pp, grid_.pp_rank, m), stage, m);
    } else {
      ChunkedStage stage;
      stage.forward = forward;
      // Within a chunk the backwards run in micro-batch order: the last one reduces.
      stage.before_backward = [&](int64_t chunk, int64_t micro) {
        ddp_[static_cast<std::size_t>(chunk)]->prepare_backward(micro == m - 1);
        backward_clock.reset();
      };
      stage.after_backward = [&](int64_t, int64_t) { compute_s += backward_clock.elapsed_s(); };
      stage.activation_shape = shape;
      stage.activation_options = options;
      run_timetable(*grid_.pp_comm, interleaved_timetable(grid_.pp, v, m), v, stage);
    }
    for (auto& d : ddp_) d->finish_backward();
    sum_partial_grads();
    // The slowest stage's compute per micro-batch (all its chunks), for the bubble.
    at::Tensor slowest = at::full({1}, compute_s / static_cast<double>(m), at::kDouble);
    grid_.pp_comm->all_reduce(slowest, ReduceOp::kMax)->wait();
    compute_per_micro_.push_back(slowest.item<double>());
    micro_ = m;
    return loss_sum;
  }
  nlohmann::json metrics(double step_time_s) override {
    if (grid_.pp == 1 || compute_per_micro_.empty()) return nlohmann::json::object();
    std::vector<double> c(compute_per_micro_.begin() + (compute_per_micro_.size() > 1 ? 1 : 0), compute_per_micro_.end());
    std::sort(c.begin(), c.end());
    const double per_micro = c[c.size() / 2];
    const double p = static_cast<double>(grid_.pp), m = static_cast<double>(micro_);
    const double v = static_cast<double>(chunks_.size());
    return {{"pipeline_bubble_measured", 1.0 - m * per_micro / step_time_s},
            {"pipeline_bubble_ideal", (p - 1) / (v * m + p - 1)},
            {"pipeline_stage_compute_per_micro_batch_s", per_micro}};
  }

 private:
  void sum_partial_grads() {
    at::NoGradGuard no_grad;
    for (std::size_t i : tp_summed_)
      if (params_[i].grad().defined()) grid_.tp_comm->all_reduce(params_[i].mutable_grad(), ReduceOp::kSum)->wait();
    if (embed_ && grid_.embed_comm) {
      at::Tensor& g = params_[*embed_].mutable_grad();
      if (!g.defined()) g = at::zeros_like(params_[*embed_]);
      grid_.embed_comm->all_reduce(g, ReduceOp::kSum)->wait();
    }
  }

  // ZeRO-1: the parameters laid end to end (padded to a multiple of dp); dp rank r owns
  // [r·shard, (r+1)·shard) and keeps AdamW state for that range only.
  struct Owned {
    std::size_t param;
    int64_t start, count, flat;  // within the parameter; its place in the flat order
  };
  void shard_over_dp() {
    int64_t total = 0;
    for (auto& p : params_) total += p.numel();
    shard_ = (total + grid_.dp - 1) / grid_.dp;
    const int64_t lo = grid_.dp_rank * shard_, hi = lo + shard_;
    int64_t offset = 0;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const int64_t a = std::max(lo, offset), b = std::min(hi, offset + params_[i].numel());
      if (a < b) {
        owned_ranges_.push_back({i, a - offset, b - a, a});
        TrainTensor t = tensors_[i];
        t.value = params_[i].view({-1}).narrow(0, a - offset, b - a);
        t.start += a - offset;  // within the rows, or the block of columns, this rank holds
        t.writer = tp_writer_[i];
        owned_.push_back(t);
      }
      offset += params_[i].numel();
    }
  }

  std::vector<TransformerImpl*> chunks_;
  ProcessGrid& grid_;
  Communicator& world_;
  bool distributed_;
  int64_t shard_ = 0;
  std::vector<Owned> owned_ranges_;
  std::vector<TrainTensor> owned_;
  bool sync_ = false;
  std::vector<std::unique_ptr<DistributedDataParallel>> ddp_;  // one per chunk
  std::vector<at::Tensor> params_;
  std::vector<TrainTensor> tensors_;
  std::vector<bool> tp_writer_;  // per parameter: this tp rank's copy is the one checkpoints keep
  std::vector<std::size_t> tp_summed_;
  std::optional<std::size_t> embed_;
  std::vector<double> compute_per_micro_;
  int64_t micro_ = 1;
};

// Layers per stage: --pp-layers, else as even as possible (the first stages take the rest).
std::vector<int64_t> stage_layers(const std::string& spec, int64_t layers, int64_t pp) {
  std::vector<int64_t> out;
  if (spec.empty()) {
    for (int64_t s = 0; s < pp; ++s) out.push_back(layers / pp + (s < layers % pp ? 1 : 0));
    return out;
  }
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    const std::size_t comma = spec.find(',', pos);
    const std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    DT_USAGE(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos,
             "--pp-layers {}: a comma-separated layer count per stage, e.g. 3,3,2", spec);
    out.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

class Megatron final : public Strategy {
 public:
  void add_flags(cxxopts::Options& o) override {
    o.add_options("megatron")
        ("tp", "tensor-parallel size (adjacent ranks; divides heads, kv-heads and ffn)",
         cxxopts::value<int64_t>()->default_value("1"), "N")
        ("pp", "pipeline-parallel stages (1F1B over the step's micro-batches)",
         cxxopts::value<int64_t>()->default_value("1"), "N")
        ("pp-layers", "layers per stage, e.g. 3,3,2 (default: as even as possible)",
         cxxopts::value<std::string>()->default_value(""), "LIST")
        ("vp", "virtual stages (model chunks) per pipeline rank: the interleaved 1F1B schedule",
         cxxopts::value<int64_t>()->default_value("1"), "N")
        ("distributed-optimizer", "shard AdamW's state over the data-parallel group (ZeRO-1)",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"))
        ("sp", "sequence parallelism in the tensor-parallel group (norms and residuals on 1/tp of the sequence)",
         cxxopts::value<bool>()->default_value("false")->implicit_value("true"));
  }
  void read_flags(const cxxopts::ParseResult& r, int world_size) override {
    tp_ = r["tp"].as<int64_t>();
    pp_ = r["pp"].as<int64_t>();
    sp_ = r["sp"].as<bool>();
    pp_layers_spec_ = r["pp-layers"].as<std::string>();
    vp_ = r["vp"].as<int64_t>();
    distributed_optimizer_ = r["distributed-optimizer"].as<bool>();
    DT_USAGE(tp_ >= 1 && pp_ >= 1, "--tp {} --pp {}: sizes are at least 1", tp_, pp_);
    DT_USAGE(world_size % (tp_ * pp_) == 0, "--tp {} x --pp {} = {} does not divide the world size {}", tp_, pp_,
             tp_ * pp_, world_size);
    DT_USAGE(vp_ >= 1, "--vp {}: at least 1", vp_);
    DT_USAGE(vp_ == 1 || pp_ > 1, "--vp {}: virtual stages interleave a pipeline; give --pp 2 or more", vp_);
    DT_USAGE(vp_ == 1 || pp_layers_spec_.empty(), "--vp with --pp-layers: the interleaved schedule splits evenly");
    DT_USAGE(!sp_ || tp_ > 1, "--sp needs --tp of 2 or more (it splits the sequence over the tensor-parallel group)");
  }
  void check(const TrainArgs& a, int world_size) override {
    world_size_ = world_size;
    const ModelConfig& c = a.model;
    DT_USAGE(c.heads % tp_ == 0 && c.kv_heads % tp_ == 0,
             "--tp {}: must divide the heads ({}) and the kv-heads ({}) of {}", tp_, c.heads, c.kv_heads, c.name);
    DT_USAGE(c.ffn % tp_ == 0, "--tp {}: must divide the MLP width {} of {}", tp_, c.ffn, c.name);
    DT_USAGE(!sp_ || a.seq % tp_ == 0, "--sp: the sequence {} must divide by --tp {}", a.seq, tp_);
    DT_USAGE(pp_ <= c.layers, "--pp {}: more stages than the {} layers of {}", pp_, c.layers, c.name);
    DT_USAGE(vp_ == 1 || c.layers % (pp_ * vp_) == 0,
             "--vp {}: the {} layers do not split into --pp {} x --vp {} = {} equal virtual stages", vp_, c.layers, pp_,
             vp_, pp_ * vp_);
    const int64_t micro = a.global_batch / (a.micro_batch * data_parallel_size(world_size_));
    DT_USAGE(vp_ == 1 || micro % pp_ == 0,
             "--vp {}: the interleaved schedule needs the micro-batches per step ({} = global batch / micro-batch / "
             "dp) to be a multiple of --pp {}",
             vp_, micro, pp_);
    layers_ = stage_layers(pp_layers_spec_, c.layers, pp_);
    int64_t total = 0;
    for (int64_t l : layers_) total += l;
    DT_USAGE(static_cast<int64_t>(layers_.size()) == pp_ && total == c.layers &&
                 std::all_of(layers_.begin(), layers_.end(), [](int64_t l) { return l >= 1; }),
             "--pp-layers {}: needs {} counts of at least 1 that add up to the {} layers", pp_layers_spec_, pp_,
             c.layers);
  }
  int64_t data_parallel_size(int world_size) const override { return world_size / (tp_ * pp_); }
  Layout layout(const TrainArgs& a, int world_size) const override {
    return Layout{world_size / (tp_ * pp_), tp_, pp_, false, a.micro_batch, a.seq, a.activation_checkpointing,
                  a.dtype == "bf16"};
  }
  Transformer make_model(const ModelConfig& config, World& world) override {
    DT_USAGE(pp_ == 1 || world.backend != "store",
             "--pp {}: pipeline stages exchange activations point to point, which the store backend cannot; start "
             "the ranks with mpirun (or srun --mpi=pmix)", pp_);
    grid_ = make_process_grid(*world.comm, tp_, pp_);
    const TensorParallel tp{grid_.tp_comm.get(), sp_};
    // Chunk k of stage s is virtual stage k·pp + s, its layers a contiguous block.
    for (int64_t k = 0; k < vp_; ++k) {
      const int64_t virtual_stage = k * pp_ + grid_.pp_rank;
      ModelPart part;
      if (vp_ == 1) {
        for (int64_t s = 0; s < grid_.pp_rank; ++s) part.first_layer += layers_[s];
        part.layers = layers_[grid_.pp_rank];
      } else {
        part.layers = config.layers / (pp_ * vp_);
        part.first_layer = virtual_stage * part.layers;
      }
      part.first = virtual_stage == 0;
      part.last = virtual_stage == pp_ * vp_ - 1;
      chunks_.push_back(Transformer(config, tp, part));
    }
    return chunks_[0];
  }
  std::unique_ptr<GradSync> wrap(Trainable&, TransformerImpl* lm, World& world, const TrainArgs& args) override {
    // lm is chunks_[0]; the trainer set its activation checkpointing from the flags.
    std::vector<TransformerImpl*> chunks;
    const at::Device device = lm->parameters().front().device();  // the trainer moved chunk 0 there
    for (auto& c : chunks_) {
      c->activation_checkpointing = lm->activation_checkpointing;
      c->to(device);
      initialize_parameters(*c, args.seed);  // each rank draws its block of every parameter
      chunks.push_back(c.get());
    }
    return std::make_unique<MegatronGradSync>(chunks, grid_, *world.comm, sp_, distributed_optimizer_);
  }
  nlohmann::json describe() const override {
    return {{"name", "megatron"},  {"tp", tp_},         {"pp", pp_},
            {"sp", sp_},           {"vp", vp_},           {"pp_layers", layers_},
            {"distributed_optimizer", distributed_optimizer_}};
  }

 private:
  int64_t tp_ = 1, pp_ = 1, vp_ = 1;
  bool sp_ = false, distributed_optimizer_ = false;
  int world_size_ = 1;
  std::string pp_layers_spec_;
  std::vector<int64_t> layers_;
  std::vector<Transformer> chunks_;
  ProcessGrid grid_;
};

}  // namespace

int main(int argc, char** argv) {
  Megatron megatron;
  TrainingExecutable exe{"megatron_gpt", "Megatron-LM style tensor/sequence/data-parallel training of a GPT or Llama.",
                         "tiny_gpt"};
  exe.megatron_line = true;
  return training_main(argc, argv, exe, megatron);
}
