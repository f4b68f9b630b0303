// DTBENCH_FAULT_OP: a documented fault for the hang and mismatch tests (docs/ARCHITECTURE.md,
// "Diagnosis"). One rank mis-issues one op, as a code path that forgets or changes a
// collective would:
//   DTBENCH_FAULT_OP=skip:RANK:SEQ[:COMM]  world rank RANK does not issue op #SEQ of
//                                           communicator COMM (default world); its later ops
//                                           take that sequence number and the ones after;
//   DTBENCH_FAULT_OP=swap:RANK:SEQ[:COMM]  it issues a barrier in place of op #SEQ.
// Unset in every real run; a malformed value is exit 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dtbench {

struct FaultOp {
  enum class Action { kSkip, kSwap } action = Action::kSkip;
  int rank = 0;
  uint64_t seq = 0;
  std::string comm = "world";
};

// Parses `text` (the variable's value); "" is no fault.
std::optional<FaultOp> parse_fault_op(const std::string& text);
// The process's fault from the environment, read once.
const std::optional<FaultOp>& fault_op_from_env();

}  // namespace dtbench
