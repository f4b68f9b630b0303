#include "core/model/recompute.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/layers/recompute_scope.h"
#include "core/model/transformer.h"

namespace dtbench {

namespace {

struct CheckpointedBlock : public torch::autograd::Function<CheckpointedBlock> {
  // `params` are inputs only so that their gradients flow out of backward.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, at::TensorList params,
                            BlockImpl* block, const RopeTables* rope) {
    ctx->save_for_backward({x});
    ctx->saved_data["block"] = reinterpret_cast<int64_t>(block);
    ctx->saved_data["rope"] = reinterpret_cast<int64_t>(rope);
    ctx->saved_data["params"] = static_cast<int64_t>(params.size());
    return block->forward(x, rope);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto* block = reinterpret_cast<BlockImpl*>(ctx->saved_data["block"].toInt());
    const auto* rope = reinterpret_cast<const RopeTables*>(ctx->saved_data["rope"].toInt());
    at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    std::vector<at::Tensor> params = block->parameters();
    at::Tensor y;
    {
      at::AutoGradMode on(true);
      const RecomputeScope again;  // the forward ran once already (what it counts, it counted)
      y = block->forward(x, rope);
    }
    std::vector<at::Tensor> inputs{x};
    inputs.insert(inputs.end(), params.begin(), params.end());
    torch::autograd::variable_list grads;
    {
      RecomputeScope inside;
      grads = torch::autograd::grad({y}, inputs, {grad_out[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                                    /*allow_unused=*/true);
    }
    grads.push_back(at::Tensor());  // block
    grads.push_back(at::Tensor());  // rope
    return grads;
  }
};

}  // namespace

at::Tensor checkpointed_block(BlockImpl& block, const at::Tensor& x, const RopeTables* rope) {
  std::vector<at::Tensor> params = block.parameters();
  return CheckpointedBlock::apply(x, at::TensorList(params), &block, rope);
}

}  // namespace dtbench
