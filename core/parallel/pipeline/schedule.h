// Pipeline schedules as pure functions (DESIGN.md, "Megatron-style"): what one stage does,
// in order, for one optimizer step over `micro` micro-batches. Point-to-point transfers
// that must happen together are one action (send this stage's output forward and receive
// a gradient back; send a gradient back and receive the next input), so that neighbouring
// stages never wait on each other in a cycle with blocking transfers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dtbench {

enum class PipeOp {
  kRecvForward,              // input of micro
  kForward,                  // micro
  kSendForward,              // output of micro
  kSendForwardRecvBackward,  // output of micro, gradient of micro2
  kBackward,                 // micro
  kSendBackward,             // input gradient of micro
  kSendBackwardRecvForward,  // input gradient of micro, input of micro2
  kRecvBackward,             // gradient of micro
};

struct PipeAction {
  PipeOp op;
  int64_t micro = 0, micro2 = -1;
  int64_t chunk = 0;  // the virtual stage (model chunk) for interleaved schedules
};

// 1F1B (PipeDream-flush, Megatron's non-interleaved schedule): stage s runs
// min(stages - s - 1, micro) warm-up forwards, then alternates one forward and one
// backward, then drains the remaining backwards. At most stages - s micro-batches'
// activations are alive on stage s.
std::vector<PipeAction> one_f_one_b(int64_t stages, int64_t stage, int64_t micro);

std::string to_string(const PipeAction& a);

}  // namespace dtbench
