#include "core/parallel/fsdp/fsdp.h"

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/StorageImpl.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <unordered_map>

#include "core/layers/recompute_scope.h"
#include "core/model/moe.h"
#include "core/report/errors.h"
#include "core/report/span.h"

namespace dtbench {

struct FullyShardedDataParallel::Unit {
  int64_t index = 0;               // 0 root, 1 + i the model's unit i
  bool recompute = false;          // activation checkpointing: keep only the input, run again in backward
  Communicator* comm = nullptr;    // over which the shards are split
  double grad_scale = 1.0;         // of the averaged gradients
  Unit* companion = nullptr;       // the unit's expert parameters (expert parallelism), handled with it
  std::vector<at::Tensor> params;  // the module's parameters: views into `full`
  std::vector<std::string> names;
  std::vector<int64_t> offsets;
  int64_t numel = 0, padded = 0, shard_numel = 0;
  at::Tensor shard, shard_grad;  // fp32, [shard_numel]
  at::Tensor full;               // compute dtype, [padded]; storage only while gathered
  bool gathered = false;
  bool aliased = false;  // full is the shard (shard group of one, fp32)
  std::shared_ptr<Work> gather_work;
  at::Tensor gather_src;
  at::Tensor full_grad, reduced;  // while its reduce-scatter is in flight (fp32)
  std::shared_ptr<Work> reduce_work;
  BlockCall call;
};

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The storage behind `t` gets a fresh allocation of `nbytes` / gives its memory back. The
// StorageImpl stays, so every view of it (the module's parameters, tensors the autograd
// graph saved) sees the new memory once it is filled.
void allocate_storage(const at::Tensor& t) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  const std::size_t nbytes = static_cast<std::size_t>(t.numel()) * t.element_size();
  // The CUDA caching allocator allocates on the current device: make it the tensor's, so that
  // cuda:k's storage never gets memory of another GPU.
  const c10::DeviceGuard on_device(t.device());
  s->set_data_ptr_noswap(s->allocator()->allocate(nbytes));
  DT_CHECK(!t.is_cuda() || s->data_ptr().device() == t.device(), "FSDP storage for {} allocated on {}",
           t.device().str(), s->data_ptr().device().str());
  s->set_nbytes(nbytes);
}

// A tensor of `numel` elements whose storage has the size but no memory (a null pointer):
// views of it can be taken now, memory comes with allocate_storage. No transient
// allocation of a whole unit (a 70B model's root unit is 8 GiB of fp32).
at::Tensor unallocated(int64_t numel, const at::TensorOptions& options) {
  at::Tensor t = at::empty({0}, options);
  c10::Allocator* allocator = t.storage().unsafeGetStorageImpl()->allocator();
  const c10::Storage storage(c10::Storage::use_byte_size_t(), static_cast<std::size_t>(numel) * t.element_size(),
                             c10::DataPtr(nullptr, t.device()), allocator, /*resizable=*/false);
  return t.set_(storage, 0, {numel}, {1});
}

void free_storage(const at::Tensor& t) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  s->set_data_ptr_noswap(c10::DataPtr(nullptr, t.device()));
  s->set_nbytes(0);
}

// Makes the module's parameter `p` a view of `view` (same TensorImpl, so the module's
// fields, its parameter list and the optimizer's names all follow). set_data refuses a meta
// parameter (a different backend); shallow_copy_from is what set_data does after that
// check, and a meta and a CPU or CUDA tensor share one TensorImpl layout.
void rebind(at::Tensor& p, const at::Tensor& view) {
  if (p.is_meta())
    p.unsafeGetTensorImpl()->shallow_copy_from(view.getIntrusivePtr());
  else
    p.set_data(view);
}

struct UnitFunction : public torch::autograd::Function<UnitFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, FullyShardedDataParallel* fsdp, int64_t unit) {
    ctx->saved_data["fsdp"] = reinterpret_cast<int64_t>(fsdp);
    ctx->saved_data["unit"] = unit;
    return fsdp->unit_forward(ctx, unit, x);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto* fsdp = reinterpret_cast<FullyShardedDataParallel*>(ctx->saved_data["fsdp"].toInt());
    return {fsdp->unit_backward(ctx, ctx->saved_data["unit"].toInt(), grad_out[0]), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

FullyShardedDataParallel::FullyShardedDataParallel(torch::nn::Module& module, const std::vector<RunnerUnit>& units,
                                                   Communicator& world, FsdpOptions options, const ShardInit& init)
    : opt_(options), waits_(world.device()) {
  const int64_t n = world.size();
  const int64_t shard = opt_.shard_size == 0 ? n : opt_.shard_size;
  DT_USAGE(shard >= 1 && n % shard == 0, "--hsdp-shard-size {}: must divide the world size {}", shard, n);
  if (shard == n) {
    shard_comm_ = &world;
  } else {
    // Shard groups of consecutive ranks (inside a node); replicas across them.
    shard_owned_ = world.split(static_cast<int>(world.rank() / shard), world.rank(), "fsdp-shard");
    replica_comm_ = world.split(static_cast<int>(world.rank() % shard), world.rank(), "fsdp-replica");
    shard_comm_ = shard_owned_.get();
    replica_index_ = world.rank() / shard;
  }

  // Units: the root (every parameter in no unit of the model's), then the model's own; under
  // expert parallelism a unit's expert parameters go to its companion.
  std::unordered_map<const c10::TensorImpl*, std::string> name_of;
  for (auto& item : module.named_parameters()) name_of[item.value().unsafeGetTensorImpl()] = item.key();
  std::unordered_map<const c10::TensorImpl*, bool> in_unit;
  std::vector<std::vector<at::Tensor>> groups(1), expert_groups(1);
  for (const RunnerUnit& unit : units) {
    groups.emplace_back();
    expert_groups.emplace_back();
    for (torch::nn::Module* m : unit.modules)
      for (auto& p : m->parameters()) {
        const std::string& name = name_of.at(p.unsafeGetTensorImpl());
        DT_CHECK(!in_unit.count(p.unsafeGetTensorImpl()), "FSDP: parameter {} is in two units", name);
        in_unit[p.unsafeGetTensorImpl()] = true;
        (opt_.expert_comm && is_expert_parameter(name) ? expert_groups : groups).back().push_back(p);
      }
  }
  for (auto& item : module.named_parameters())
    if (!in_unit.count(item.value().unsafeGetTensorImpl())) groups[0].push_back(item.value());

  at::NoGradGuard no_grad;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const bool recompute = g > 0 && opt_.activation_checkpointing && units[g - 1].block;
    const auto index = static_cast<int64_t>(g);
    units_.push_back(make_unit(index, groups[g], *shard_comm_, recompute, 1.0, name_of, init));
    if (expert_groups[g].empty()) continue;
    companions_.push_back(
        make_unit(index, expert_groups[g], *opt_.expert_comm, recompute, opt_.expert_grad_scale, name_of, init));
    units_.back()->companion = companions_.back().get();
  }
}

std::unique_ptr<FullyShardedDataParallel::Unit> FullyShardedDataParallel::make_unit(
    int64_t index, const std::vector<at::Tensor>& params, Communicator& comm, bool recompute, double grad_scale,
    const std::unordered_map<const c10::TensorImpl*, std::string>& name_of, const ShardInit& init) {
  const int64_t ranks = comm.size(), me = comm.rank();
  auto u = std::make_unique<Unit>();
  u->index = index;
  u->recompute = recompute;
  u->comm = &comm;
  u->grad_scale = grad_scale;
  const at::TensorOptions master = at::TensorOptions().dtype(at::kFloat).device(opt_.device);
  for (const auto& p : params) {
    DT_CHECK(p.is_meta() || p.device() == opt_.device, "FSDP: parameter {} is on {}, its shards go on {}",
             name_of.at(p.unsafeGetTensorImpl()), p.device().str(), opt_.device.str());
    u->params.push_back(p);
    u->names.push_back(name_of.at(p.unsafeGetTensorImpl()));
    u->offsets.push_back(u->numel);
    u->numel += p.numel();
  }
  u->padded = (u->numel + ranks - 1) / ranks * ranks;
  u->shard_numel = u->padded / ranks;
  u->shard = at::zeros({u->shard_numel}, master);
  u->shard_grad = at::zeros({u->shard_numel}, master);
  // Alone (no shard group, no replicas) and computing in fp32, a rank's shard is the whole flat
  // parameter: the module's parameters view the shard itself and nothing is gathered,
  // freed or reduced (one process pays no copies for FSDP).
  u->aliased = ranks == 1 && !replica_comm_ && opt_.compute_dtype == at::kFloat && grad_scale == 1.0;
  u->full = u->aliased ? u->shard : unallocated(u->padded, master.dtype(opt_.compute_dtype));
  u->gathered = u->aliased;
  const int64_t lo_shard = me * u->shard_numel, hi_shard = lo_shard + u->shard_numel;
  for (std::size_t k = 0; k < u->params.size(); ++k) {
    at::Tensor& p = u->params[k];
    const int64_t lo = std::max(lo_shard, u->offsets[k]), hi = std::min(hi_shard, u->offsets[k] + p.numel());
    if (lo < hi) {
      Slice s{u->names[k], u->shard.narrow(0, lo - lo_shard, hi - lo), u->shard_grad.narrow(0, lo - lo_shard, hi - lo),
              p.sizes().vec(), lo - u->offsets[k]};
      init(s.name, s.value, s.start);
      slices_.push_back(std::move(s));
    }
    // From now on the parameter is a view into the unit's flat buffer; its own memory goes.
    rebind(p, u->full.narrow(0, u->offsets[k], p.numel()).view(p.sizes()));
  }
  if (!u->aliased) free_storage(u->full);
  return u;
}

FullyShardedDataParallel::~FullyShardedDataParallel() {
  for (auto* list : {&units_, &companions_})
    for (auto& u : *list) {
      if (u->gather_work) u->gather_work->settle();
      if (u->reduce_work) u->reduce_work->settle();
    }
}

int64_t FullyShardedDataParallel::shard_bytes() const {
  int64_t b = 0;
  for (const auto* list : {&units_, &companions_})
    for (const auto& u : *list) b += static_cast<int64_t>(u->shard.nbytes() + u->shard_grad.nbytes());
  return b;
}

void FullyShardedDataParallel::gather_async(Unit& u) {
  if (u.companion) gather_async(*u.companion);
  if (u.gathered || u.gather_work) return;
  const Span span(fmt::format("fsdp all_gather unit {}{}", u.index, u.grad_scale != 1.0 ? " experts" : ""));
  allocate_storage(u.full);
  u.gather_src = u.shard.scalar_type() == opt_.compute_dtype ? u.shard : u.shard.to(opt_.compute_dtype);
  u.gather_work = u.comm->all_gather(u.gather_src, u.full);
}

void FullyShardedDataParallel::gather(Unit& u) {
  gather_async(u);
  for (Unit* x : {&u, u.companion}) {
    if (!x) continue;
    if (x->gather_work) {
      waits_.time([&] { x->gather_work->wait(); });
      x->gather_work.reset();
      x->gather_src = at::Tensor();
    }
    x->gathered = true;
  }
}

void FullyShardedDataParallel::release(Unit& u) {
  if (u.companion) release(*u.companion);
  if (!u.gathered || u.aliased) return;
  free_storage(u.full);
  u.gathered = false;
}

at::Tensor FullyShardedDataParallel::flat_grad(Unit& u) {
  // Autograd accumulates into a .grad that exists (in place, grad mode being off in
  // backward): the unit's parameters get views of one flat buffer, so their gradients land
  // where the reduce-scatter reads them, with no copy and no second unsharded gradient.
  // Aliased: straight into the gradient shard, accumulating over micro-steps.
  at::Tensor flat = u.aliased ? u.shard_grad : at::zeros({u.padded}, u.full.options());
  for (std::size_t k = 0; k < u.params.size(); ++k)
    u.params[k].mutable_grad() = flat.narrow(0, u.offsets[k], u.params[k].numel()).view(u.params[k].sizes());
  return flat;
}

void FullyShardedDataParallel::reduce_async(Unit& u, at::Tensor flat, bool drain) {
  for (auto& p : u.params) p.mutable_grad() = at::Tensor();
  if (u.aliased) return;  // the gradients are in the shard already
  // The previous unit's reduce-scatter ran while this unit's backward computed; it ends
  // now, so at most two units' unsharded gradients (this one's and the one in flight) live.
  if (drain) drain_reductions();
  const Span span(fmt::format("fsdp reduce_scatter unit {}", u.index));
  // Reductions in fp32; the caller's reference moves in, so the gradient dies with full_grad.
  u.full_grad = flat.scalar_type() == at::kFloat ? std::move(flat) : flat.to(at::kFloat);
  u.reduced = at::empty({u.shard_numel}, u.shard.options());
  u.reduce_work = u.comm->reduce_scatter(u.full_grad, u.reduced, ReduceOp::kAvg);
  reducing_.push_back(&u);
}

void FullyShardedDataParallel::finish_reduce(Unit& u) {
  waits_.time([&] {
    u.reduce_work->wait();
    if (replica_comm_) replica_comm_->all_reduce(u.reduced, ReduceOp::kAvg)->wait();
  });
  u.reduce_work.reset();
  u.full_grad = at::Tensor();
  if (u.grad_scale != 1.0) u.reduced.mul_(u.grad_scale);
  u.shard_grad.add_(u.reduced);  // accumulates over micro-steps
  u.reduced = at::Tensor();
}

void FullyShardedDataParallel::drain_reductions() {
  for (Unit* u : reducing_) finish_reduce(*u);
  reducing_.clear();
}

void FullyShardedDataParallel::zero_grads() {
  for (auto* list : {&units_, &companions_})
    for (auto& u : *list) u->shard_grad.zero_();
}

void FullyShardedDataParallel::begin_micro_step() {
  gather(*units_[0]);
  root_grad_ = flat_grad(*units_[0]);  // the root's gradients accumulate here over backward
  if (opt_.prefetch && units_.size() > 1) gather_async(*units_[1]);
}

void FullyShardedDataParallel::finish_micro_step() {
  // The finaliser: the root's gradients are complete only once backward has returned (the
  // embedding's comes last), so they are reduced here.
  reduce_async(*units_[0], std::move(root_grad_));
  drain_reductions();
  for (auto& u : units_) {
    if (u->gather_work || (u->companion && u->companion->gather_work)) gather(*u);  // a prefetch nobody used
    release(*u);
  }
}

at::Tensor FullyShardedDataParallel::run(int64_t index, const BlockCall& call, const at::Tensor& x) {
  DT_CHECK(index >= 0 && index + 1 < static_cast<int64_t>(units_.size()),
           "FSDP: the model's unit {} is not one of its {}", index, units_.size() - 1);
  Unit& u = *units_[static_cast<std::size_t>(index + 1)];
  u.call = call;
  if (!at::GradMode::is_enabled()) {  // evaluation: gather around the call, nothing to keep
    gather(u);
    at::Tensor y = call(x);
    if (opt_.reshard_after_forward) release(u);
    return y;
  }
  return UnitFunction::apply(x, this, u.index);
}

at::Tensor FullyShardedDataParallel::unit_forward(void* context, int64_t unit, const at::Tensor& x) {
  auto* ctx = static_cast<AutogradContext*>(context);
  Unit& u = *units_[static_cast<std::size_t>(unit)];
  const Span span(fmt::format("fsdp unit {} forward", unit));
  gather(u);
  const bool last = unit + 1 == static_cast<int64_t>(units_.size());
  if (opt_.prefetch && !last) gather_async(*units_[static_cast<std::size_t>(unit + 1)]);
  at::Tensor y;
  if (u.recompute) {
    ctx->save_for_backward({x});
    y = u.call(x);  // no graph: autograd functions run forward without grad mode
  } else {
    at::AutoGradMode on(true);
    at::Tensor x_leaf = x.detach().requires_grad_(true);
    at::Tensor y_inner = u.call(x_leaf);
    ctx->saved_data["x"] = x_leaf;
    ctx->saved_data["y"] = y_inner;  // keeps the block's graph, and its activations, for backward
    y = y_inner.detach();
  }
  // The last unit stays: its backward comes first.
  if (opt_.reshard_after_forward && !last) release(u);
  return y;
}

at::Tensor FullyShardedDataParallel::unit_backward(void* context, int64_t unit, const at::Tensor& grad_y) {
  auto* ctx = static_cast<AutogradContext*>(context);
  Unit& u = *units_[static_cast<std::size_t>(unit)];
  const Span span(fmt::format("fsdp unit {} backward", unit));
  gather(u);
  if (opt_.prefetch && unit > 1) gather_async(*units_[static_cast<std::size_t>(unit - 1)]);
  at::Tensor x, y;
  if (u.recompute) {
    x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    at::AutoGradMode on(true);
    const RecomputeScope again;  // the forward ran once already (what it counts, it counted)
    y = u.call(x);
  } else {
    x = ctx->saved_data["x"].toTensor();
    y = ctx->saved_data["y"].toTensor();
    ctx->saved_data.erase("y");
  }
  std::vector<at::Tensor> inputs{x};
  inputs.insert(inputs.end(), u.params.begin(), u.params.end());
  if (u.companion) inputs.insert(inputs.end(), u.companion->params.begin(), u.companion->params.end());
  at::Tensor flat = flat_grad(u);
  at::Tensor expert_flat = u.companion ? flat_grad(*u.companion) : at::Tensor();
  torch::autograd::backward({y}, {grad_y}, /*retain_graph=*/false, /*create_graph=*/false, inputs);
  at::Tensor grad_x = x.grad();
  release(u);
  reduce_async(u, std::move(flat));
  if (u.companion) reduce_async(*u.companion, std::move(expert_flat), /*drain=*/false);  // in flight with u's
  return grad_x;
}

}  // namespace dtbench
