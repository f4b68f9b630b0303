#include "core/model/mlp_classifier.h"

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

at::Tensor MlpClassifierImpl::forward(const at::Tensor& images) { return fc3(at::relu(fc2(at::relu(fc1(images))))); }

int64_t MlpClassifierImpl::parameter_count() {
  return kPixels * kHidden + kHidden + kHidden * kHidden + kHidden + kHidden * kClasses + kClasses;
}

double MlpClassifierImpl::flops_per_sample() {
  return 3.0 * 2.0 * static_cast<double>(kPixels * kHidden + kHidden * kHidden + kHidden * kClasses);
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
