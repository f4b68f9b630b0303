// AWS's DDP test case model: a 784-512-512-10 MLP with ReLU, on synthetic MNIST-shaped data
// (28x28 images, 10 classes). Each image is uniform noise with its label's band of rows
// brightened, so the labels are learnable; image and label are pure functions of (seed,
// global sample index).
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "core/layers/linear.h"
#include "core/train/trainable.h"

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

// Images [count, 784] and labels [count] of global samples [first, first + count).
std::pair<at::Tensor, at::Tensor> synthetic_mnist(uint64_t seed, int64_t first, int64_t count);

class MlpTask final : public Trainable {
 public:
  MlpTask(MlpClassifierImpl& model, uint64_t seed) : model_(model), seed_(seed) {}
  torch::nn::Module& module() override { return model_; }
  at::Tensor loss_sum(int64_t first, int64_t count) override;
  int64_t terms_per_sample() const override { return 1; }
  double flops_per_term() const override { return MlpClassifierImpl::flops_per_sample(); }

 private:
  MlpClassifierImpl& model_;
  uint64_t seed_;
};

// normal(0, 0.02) weights by (seed, name, element), zero biases.
void initialize_parameters(MlpClassifierImpl& model, uint64_t seed);

}  // namespace dtbench
