// Pipeline schedules as pure functions (docs/ARCHITECTURE.md, "Megatron-style"): what one stage does,
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

// Interleaved 1F1B (Megatron's schedule with virtual stages): each stage holds `chunks`
// model chunks (chunk c of stage s is virtual stage c·stages + s), so a micro-batch passes
// every stage `chunks` times and the bubble shrinks by that factor. Expressed as a
// lock-step timetable: at each tick every stage runs at most one forward and one backward,
// then all stages shift activations one stage on and gradients one stage back around the
// ring (the last stage's chunk c feeds the first stage's chunk c + 1); what a tick computes
// reaches its consumer the next tick. Forwards run in Megatron's order (micro-batches in
// groups of `stages`, chunk by chunk; backwards with the chunks reversed), and stage s keeps
// at most (stages − s − 1)·2 + (chunks − 1)·stages + 1 micro-batches in flight. `micro` must
// be a multiple of `stages`. Returns [stage][tick].
struct PipeItem {
  int64_t chunk = -1, micro = -1;  // chunk < 0: nothing
  bool some() const { return chunk >= 0; }
};
struct PipeTick {
  PipeItem forward, backward;
};
std::vector<std::vector<PipeTick>> interleaved_timetable(int64_t stages, int64_t chunks, int64_t micro);

}  // namespace dtbench
