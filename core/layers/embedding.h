// Token (or position) embedding: a table of [rows, hidden]. Plain at tensor-parallel size 1;
// the Megatron issue splits the vocabulary across ranks.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace dtbench {

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t rows, int64_t hidden) { weight = register_parameter("weight", at::empty({rows, hidden})); }
  at::Tensor forward(const at::Tensor& ids) { return at::embedding(weight, ids); }
  at::Tensor weight;
};
TORCH_MODULE(Embedding);

}  // namespace dtbench
