// Checkpoints (--ckpt-dir --ckpt-every --resume).
//
// A checkpoint is a folder <ckpt-dir>/<model>-<N>steps/ holding one file per rank
// (rank00000.bin, ...: raw tensor bytes) and `.metadata`, written last: JSON naming every
// tensor, its dtype and whole shape, and where its pieces lie (file, byte offset, the range
// of flattened elements, CRC-32C). A rank contributes pieces: a whole replicated tensor
// (rank 0 alone, for DDP), a range of a flattened tensor (an FSDP shard's slice, a block of
// rows), or a range of a flattened block of columns (a row-parallel weight's block under
// tensor parallelism). A reader asks for any such range of any tensor and gets it from
// whichever pieces cover it, so a sharded checkpoint loads on another world size, another
// layout (tp, pp, dp) or another strategy.
//
// Saving is atomic: everything goes into <ckpt-dir>/.tmp-<name>/, each file is fsynced,
// `.metadata` last, then the folder is renamed and <ckpt-dir> fsynced. A folder without
// `.metadata` is incomplete; a piece whose CRC differs is corrupt; both are reported and
// skipped, never loaded. Multi-node runs need <ckpt-dir> on a shared file system.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/comm/control_plane.h"
#include "core/parallel/train_tensor.h"  // ColumnBlock: which elements a piece holds or a read asks for

namespace dtbench {

inline constexpr const char* kCheckpointFormat = "dtbench.checkpoint/v1";

// What one rank writes of tensor `name` (whole shape `shape`): elements
// [start, start + values.numel()) of its flattened value, or of `block`.
struct CheckpointPiece {
  std::string name;
  at::Tensor values;
  std::vector<int64_t> shape;
  int64_t start = 0;
  ColumnBlock block;
};

// A bad, missing or incomplete piece of a checkpoint being read.
struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "<prefix>-<steps>steps".
std::string checkpoint_name(const std::string& prefix, int64_t steps);

// Collective over `ctl`. Writes <dir>/<name>/ atomically with every rank's pieces and
// `state` (any JSON: step, data position, ...) in `.metadata`; returns its path. Throws
// RuntimeFailure on every rank, naming the rank and the reason, when any rank fails.
std::string save_checkpoint(ControlPlane& ctl, const std::string& dir, const std::string& name,
                            const std::vector<CheckpointPiece>& mine, const nlohmann::json& state);

// A complete checkpoint: reads verify each piece's CRC-32C.
class CheckpointReader {
 public:
  CheckpointReader(std::string path, nlohmann::json metadata);
  const std::string& path() const { return path_; }
  const nlohmann::json& state() const { return meta_.at("state"); }
  bool has(const std::string& name) const { return meta_.at("tensors").contains(name); }
  std::vector<int64_t> shape(const std::string& name) const;
  // Elements [start, start + count) of flattened `name`, or of its `block` (count < 0: to
  // the end), as a 1-D CPU tensor of its stored dtype. Throws CheckpointError.
  at::Tensor read(const std::string& name, int64_t start = 0, int64_t count = -1, const ColumnBlock& block = {}) const;

 private:
  const nlohmann::json& entry(const std::string& name) const;
  // A piece's `nbytes` bytes from its file, checked against its CRC-32C.
  at::Tensor read_piece(const nlohmann::json& piece, int64_t nbytes, const std::string& name) const;
  std::string path_;
  nlohmann::json meta_;
};

// Collective over `ctl`. Tries the checkpoints <dir>/<prefix>-<N>steps, newest first:
// every rank calls `stage` (read what it needs into staging; a CheckpointError means this
// candidate is bad), and the first candidate that all ranks read wholly wins. Rank 0 logs
// each skipped candidate with its reason. Returns the winner's path ("" when none).
std::string load_latest_checkpoint(ControlPlane& ctl, const std::string& dir, const std::string& prefix,
                                   const std::function<void(const CheckpointReader&)>& stage);

}  // namespace dtbench
