// Linear layer y = x W^T (+ b), plain or tensor-parallel (see tensor_parallel.h):
// column-parallel holds rows [r·out/tp, (r+1)·out/tp) of W (and of b); row-parallel holds
// columns [r·in/tp, (r+1)·in/tp) of W and the whole b, which is added after the partial
// products are summed (add_bias, by the caller, after exit_parallel_region). The same
// parameter names at every size; each rank's values are its block of the whole.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "core/layers/parameters.h"
#include "core/layers/tensor_parallel.h"
#include "core/report/errors.h"

namespace dtbench {

enum class Split { kNone, kColumn, kRow };

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias, Split split = Split::kNone, const TensorParallel& tp = {})
      : split_(split) {
    const int64_t n = split == Split::kNone ? 1 : tp.size(), r = split == Split::kNone ? 0 : tp.rank();
    DT_CHECK((split != Split::kColumn || out % n == 0) && (split != Split::kRow || in % n == 0),
             "linear {}x{} does not split over {} ranks", out, in, n);
    const int64_t lout = split == Split::kColumn ? out / n : out, lin = split == Split::kRow ? in / n : in;
    weight = register_parameter("weight", at::empty({lout, lin}, parameter_options()));
    weight_sharding = {split == Split::kColumn ? 0
                       : split == Split::kRow  ? 1
                                               : -1,
                       {out, in},
                       split == Split::kColumn ? r * lout
                       : split == Split::kRow  ? r * lin
                                               : 0};
    if (bias) {
      this->bias = register_parameter("bias", at::zeros({lout}, parameter_options()));
      bias_sharding = {split == Split::kColumn ? 0 : -1, {out}, split == Split::kColumn ? r * lout : 0};
    }
  }
  // This rank's product; a row-parallel layer's is a partial sum without the bias.
  at::Tensor forward(const at::Tensor& x) {
    return at::linear(x, weight, bias.defined() && split_ != Split::kRow ? bias : at::Tensor());
  }
  at::Tensor add_bias(const at::Tensor& y) const { return bias.defined() && split_ == Split::kRow ? y + bias : y; }

  at::Tensor weight, bias;
  Sharding weight_sharding, bias_sharding;

 private:
  Split split_;
};
TORCH_MODULE(Linear);

}  // namespace dtbench
