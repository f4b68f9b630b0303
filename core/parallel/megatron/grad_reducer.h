// Megatron's gradient reduction. Per model chunk, DDP over the data-parallel group
// (buckets reduced while backward runs); then, once per step, the sums DDP does not make:
// with sequence parallelism the replicated parameters' gradients (norms, row-parallel
// biases) are partial sums over the tensor-parallel group's sequence chunks and are summed
// over it; with tied embeddings split over pipeline stages, the first stage's embedding and
// the last stage's copy (for the head) sum their gradients over the embedding group.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "core/comm/process_grid.h"
#include "core/model/transformer.h"
#include "core/parallel/ddp/ddp.h"
#include "core/parallel/pipeline/pipeline_driver.h"
#include "core/parallel/roles.h"

namespace dtbench {

class MegatronGradReducer final : public GradientReducer, public ChunkGradients {
 public:
  // `chunks`: this rank's model chunks (one, or --vp of them); the grid outlives this.
  MegatronGradReducer(const std::vector<TransformerImpl*>& chunks, ProcessGrid& grid, bool sequence_parallel);

  // The loop's micro-batches, all on chunk 0 (no pipeline).
  void zero_grads() override;
  void before_backward(bool last) override;
  void after_backward() override;

  // A pipeline's: each chunk's backward, then once after the step's last backward.
  void before_chunk_backward(int64_t chunk, bool last) override;
  void finish_step() override;

 private:
  void sum_partial_grads();

  ProcessGrid& grid_;
  // Per chunk: one over dp, or under expert parallelism one for the dense parameters over dp
  // and one for the experts' over their replicas.
  std::vector<std::vector<std::unique_ptr<DistributedDataParallel>>> ddp_;
  std::vector<at::Tensor> tp_summed_;  // gradients that are partial sums over tp
  std::optional<at::Tensor> embed_;    // the tied embedding (or its copy)
  bool last_ = false;
};

}  // namespace dtbench
