// What the training loop trains: a module, and the summed loss of any range of global
// samples. A language model's loss terms are tokens (seq per sample); the MLP's are
// samples. The loop's "tokens" figures count these terms.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "core/data/synthetic_mnist.h"
#include "core/data/token_source.h"
#include "core/model/mlp_classifier.h"
#include "core/model/transformer.h"

namespace dtbench {

class Trainable {
 public:
  virtual ~Trainable() = default;
  virtual torch::nn::Module& module() = 0;
  // Summed loss (fp32) over global samples [first, first + count).
  virtual at::Tensor loss_sum(int64_t first, int64_t count) = 0;
  virtual int64_t terms_per_sample() const = 0;
  // The raw samples [first, first + count) (a language model's token rows [count, seq + 1]),
  // for strategies that run the model in parts (pipeline stages).
  virtual at::Tensor batch(int64_t first, int64_t count) { return at::Tensor(); }
  virtual double flops_per_term() const = 0;  // model FLOPs, forward + backward
};

// A transformer on a token source.
class LanguageModelTask final : public Trainable {
 public:
  LanguageModelTask(TransformerImpl& model, const TokenSource& data, int64_t seq, at::Device device = at::kCPU)
      : model_(model), data_(data), seq_(seq), device_(device) {}
  torch::nn::Module& module() override { return model_; }
  at::Tensor loss_sum(int64_t first, int64_t count) override { return model_.loss_sum(batch(first, count)); }
  // Token rows are read on the host and copied to the model's device.
  at::Tensor batch(int64_t first, int64_t count) override { return data_.samples(first, count).to(device_); }
  int64_t terms_per_sample() const override { return seq_; }
  double flops_per_term() const override { return flops_per_token(model_.config(), seq_); }

 private:
  TransformerImpl& model_;
  const TokenSource& data_;
  int64_t seq_;
  at::Device device_;
};

// The MLP classifier on synthetic MNIST-shaped data.
class MlpTask final : public Trainable {
 public:
  MlpTask(MlpClassifierImpl& model, uint64_t seed, at::Device device = at::kCPU)
      : model_(model), seed_(seed), device_(device) {}
  torch::nn::Module& module() override { return model_; }
  at::Tensor loss_sum(int64_t first, int64_t count) override {
    auto [images, labels] = synthetic_mnist(seed_, first, count);
    return at::cross_entropy_loss(model_.forward(images.to(device_)), labels.to(device_), {}, at::Reduction::Sum);
  }
  int64_t terms_per_sample() const override { return 1; }
  double flops_per_term() const override { return MlpClassifierImpl::flops_per_sample(); }

 private:
  MlpClassifierImpl& model_;
  uint64_t seed_;
  at::Device device_;
};

}  // namespace dtbench
