// Token (or position) embedding: a table of [rows, hidden]. Vocabulary-parallel (tp > 1):
// the rows are padded to a multiple of tp and rank r holds rows [r·rows/tp, (r+1)·rows/tp);
// its lookup is a partial sum (zeros for ids outside its block) that the caller completes
// with exit_parallel_region. Padding rows are never looked up and never count in a loss.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "core/layers/parameters.h"
#include "core/layers/tensor_parallel.h"

namespace dtbench {

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t rows, int64_t hidden, const TensorParallel& tp = {}) : parallel_(tp.size() > 1) {
    const int64_t n = tp.size(), padded = (rows + n - 1) / n * n, local = padded / n;
    weight = register_parameter("weight", at::empty({local, hidden}, parameter_options()));
    weight_sharding = {parallel_ ? 0 : -1, {padded, hidden}, tp.rank() * local};
  }
  at::Tensor forward(const at::Tensor& ids) {
    if (!parallel_) return at::embedding(weight, ids);
    const at::Tensor local = ids - weight_sharding.offset;
    const at::Tensor mine = (local >= 0) & (local < weight.size(0));
    const at::Tensor y = at::embedding(weight, at::where(mine, local, at::zeros_like(local)));
    return y * mine.unsqueeze(-1).to(y.scalar_type());
  }
  int64_t first_row() const { return weight_sharding.offset; }
  at::Tensor weight;
  Sharding weight_sharding;

 private:
  bool parallel_;
};
TORCH_MODULE(Embedding);

}  // namespace dtbench
