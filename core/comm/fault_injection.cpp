#include "core/comm/fault_injection.h"

#include <cstdlib>
#include <sstream>
#include <vector>

#include "core/report/errors.h"
#include "core/report/numbers.h"

namespace dtbench {

std::optional<FaultOp> parse_fault_op(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string p; std::getline(in, p, ':');) parts.push_back(p);
  const std::string want = "want skip:RANK:SEQ[:COMM] or swap:RANK:SEQ[:COMM], e.g. skip:2:17";
  DT_USAGE((parts.size() == 3 || parts.size() == 4) && (parts[0] == "skip" || parts[0] == "swap"),
           "DTBENCH_FAULT_OP={}: {}", text, want);
  FaultOp f;
  f.action = parts[0] == "skip" ? FaultOp::Action::kSkip : FaultOp::Action::kSwap;
  int64_t rank = 0, seq = 0;
  DT_USAGE(read_integer(parts[1], 0, 1 << 30, rank).empty() && read_integer(parts[2], 0, INT64_MAX, seq).empty(),
           "DTBENCH_FAULT_OP={}: RANK and SEQ must be whole numbers; {}", text, want);
  f.rank = static_cast<int>(rank);
  f.seq = static_cast<uint64_t>(seq);
  if (parts.size() == 4) {
    DT_USAGE(!parts[3].empty(), "DTBENCH_FAULT_OP={}: empty communicator name; {}", text, want);
    f.comm = parts[3];
  }
  return f;
}

const std::optional<FaultOp>& fault_op_from_env() {
  static const std::optional<FaultOp> fault = [] {
    const char* v = std::getenv("DTBENCH_FAULT_OP");
    return parse_fault_op(v ? v : "");
  }();
  return fault;
}

}  // namespace dtbench
