#include "core/model/mlp_classifier.h"

#include <ATen/core/PhiloxRNGEngine.h>

#include "core/model/init.h"

namespace dtbench {

namespace {
constexpr int64_t kPixels = 784, kHidden = 512, kClasses = 10;
}

MlpClassifierImpl::MlpClassifierImpl() {
  fc1 = register_module("fc1", Linear(kPixels, kHidden, true));
  fc2 = register_module("fc2", Linear(kHidden, kHidden, true));
  fc3 = register_module("fc3", Linear(kHidden, kClasses, true));
}

at::Tensor MlpClassifierImpl::forward(const at::Tensor& images) {
  return fc3(at::relu(fc2(at::relu(fc1(images)))));
}

int64_t MlpClassifierImpl::parameter_count() {
  return kPixels * kHidden + kHidden + kHidden * kHidden + kHidden + kHidden * kClasses + kClasses;
}

double MlpClassifierImpl::flops_per_sample() {
  return 3.0 * 2.0 * static_cast<double>(kPixels * kHidden + kHidden * kHidden + kHidden * kClasses);
}

std::pair<at::Tensor, at::Tensor> synthetic_mnist(uint64_t seed, int64_t first, int64_t count) {
  at::Tensor images = at::empty({count, kPixels}, at::kFloat), labels = at::empty({count}, at::kLong);
  float* img = images.data_ptr<float>();
  int64_t* lab = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    at::Philox4_32 rng(seed, static_cast<uint64_t>(first + i), 0);
    const int64_t label = rng() % kClasses;
    lab[i] = label;
    for (int64_t p = 0; p < kPixels; ++p) {
      const float noise = static_cast<float>(rng()) / 4294967296.0f;
      const bool band = (p / 28) * kClasses / 28 == label;  // rows of the label's band
      img[i * kPixels + p] = band ? 0.5f + 0.5f * noise : noise;
    }
  }
  return {images, labels};
}

at::Tensor MlpTask::loss_sum(int64_t first, int64_t count) {
  auto [images, labels] = synthetic_mnist(seed_, first, count);
  return at::cross_entropy_loss(model_.forward(images), labels, {}, at::Reduction::Sum);
}

void initialize_parameters(MlpClassifierImpl& model, uint64_t seed) {
  at::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    at::Tensor p = item.value();
    if (item.key().size() > 5 && item.key().substr(item.key().size() - 5) == ".bias") {
      p.zero_();
    } else {
      init_normal_slice(p, seed, item.key(), 0, 0.02);
    }
  }
}

}  // namespace dtbench
