// AWS's DDP test case model: a 784-512-512-10 MLP with ReLU over 28x28 images, 10 classes.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "core/layers/linear.h"

namespace dtbench {

class MlpClassifierImpl : public torch::nn::Module {
 public:
  MlpClassifierImpl();
  at::Tensor forward(const at::Tensor& images);  // [b, 784] -> logits [b, 10]
  static int64_t parameter_count();
  static double flops_per_sample();  // forward + backward
  Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
};
TORCH_MODULE(MlpClassifier);

// normal(0, 0.02) weights by (seed, name, element), zero biases.
void initialize_parameters(MlpClassifierImpl& model, uint64_t seed);

}  // namespace dtbench
