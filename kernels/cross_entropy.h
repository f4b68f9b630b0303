// Cross-entropy over the vocabulary, summed over rows, as core/model/transformer.cpp takes it
// (at::cross_entropy_loss with Reduction::Sum, ignore_index −100):
//   loss_i = logsumexp(x_i) − x_i[t_i],  0 where t_i = ignore_index.
// Forward makes one pass over each row, keeping an online max and sum of exponentials over the
// vocabulary in chunks, and saves only the row's logsumexp. Backward recomputes the softmax
// from it and writes dlogits = (softmax − onehot) · grad straight away: the probabilities
// never exist as a tensor. A target outside [0, V) (and not ignored) gives a NaN loss.
#pragma once

#include "kernels/types.h"

namespace dtbench::kernels {

constexpr int64_t kIgnoreIndex = -100;

// logits, dlogits: [rows, vocab] of `dtype`, contiguous; targets: [rows] int64; loss, lse:
// [rows] fp32 (the caller sums loss); grad: one fp32 on the device, the loss's gradient.
void cross_entropy_forward_cuda(DType dtype, const void* logits, const int64_t* targets, float* loss, float* lse,
                                int64_t rows, int64_t vocab, int64_t ignore_index, Stream stream);
void cross_entropy_backward_cuda(DType dtype, const void* logits, const int64_t* targets, const float* lse,
                                 const float* grad, void* dlogits, int64_t rows, int64_t vocab, int64_t ignore_index,
                                 Stream stream);

// The CPU references (the ground truth), fp32 in and out, double arithmetic; `chunk` is the
// number of vocabulary entries per step of the online logsumexp (any size ≥ 1).
void cross_entropy_forward_ref(const float* logits, const int64_t* targets, float* loss, float* lse, int64_t rows,
                               int64_t vocab, int64_t ignore_index, int64_t chunk);
void cross_entropy_backward_ref(const float* logits, const int64_t* targets, const float* lse, const float* grad,
                                float* dlogits, int64_t rows, int64_t vocab, int64_t ignore_index);

}  // namespace dtbench::kernels
