#include "core/comm/types.h"

namespace dtbench {

const char* op_name(OpType op) {
  switch (op) {
    case OpType::kAllReduce:
      return "all_reduce";
    case OpType::kAllGather:
      return "all_gather";
    case OpType::kReduceScatter:
      return "reduce_scatter";
    case OpType::kBroadcast:
      return "broadcast";
    case OpType::kReduce:
      return "reduce";
    case OpType::kAllToAll:
      return "all_to_all";
    case OpType::kAllToAllV:
      return "all_to_allv";
    case OpType::kSend:
      return "send";
    case OpType::kRecv:
      return "recv";
    case OpType::kSendRecv:
      return "send_recv";
    case OpType::kBarrier:
      return "barrier";
  }
  return "?";
}

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kAvg:
      return "avg";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kMin:
      return "min";
    case ReduceOp::kProd:
      return "prod";
  }
  return "?";
}

std::optional<ReduceOp> parse_reduce_op(const std::string& name) {
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax, ReduceOp::kMin, ReduceOp::kProd})
    if (name == reduce_op_name(op)) return op;
  return std::nullopt;
}

std::optional<c10::ScalarType> parse_dtype(const std::string& name) {
  if (name == "float" || name == "fp32" || name == "float32") return c10::kFloat;
  if (name == "double" || name == "fp64" || name == "float64") return c10::kDouble;
  if (name == "half" || name == "fp16" || name == "float16") return c10::kHalf;
  if (name == "bfloat16" || name == "bf16") return c10::kBFloat16;
  if (name == "int32" || name == "int") return c10::kInt;
  if (name == "int64") return c10::kLong;
  return std::nullopt;
}

const char* dtype_name(c10::ScalarType t) {
  switch (t) {
    case c10::kFloat:
      return "float";
    case c10::kDouble:
      return "double";
    case c10::kHalf:
      return "half";
    case c10::kBFloat16:
      return "bfloat16";
    case c10::kInt:
      return "int32";
    case c10::kLong:
      return "int64";
    default:
      return "unsupported";
  }
}

bool is_collective(OpType op) { return op != OpType::kSend && op != OpType::kRecv && op != OpType::kSendRecv; }

}  // namespace dtbench
