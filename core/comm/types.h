// Names shared by the Communicator, its backends and the benchmarks.
#pragma once

#include <c10/core/ScalarType.h>

#include <optional>
#include <string>

namespace dtbench {

enum class OpType {
  kAllReduce,
  kAllGather,
  kReduceScatter,
  kBroadcast,
  kReduce,
  kAllToAll,
  kAllToAllV,
  kSend,
  kRecv,
  kSendRecv,
  kBarrier
};

enum class ReduceOp { kSum, kAvg, kMax, kMin, kProd };

const char* op_name(OpType op);
const char* reduce_op_name(ReduceOp op);
std::optional<ReduceOp> parse_reduce_op(const std::string& name);  // sum avg max min prod

// nccl-tests' type names: float double half bfloat16 int32 int64 (and their aliases).
std::optional<c10::ScalarType> parse_dtype(const std::string& name);
const char* dtype_name(c10::ScalarType t);  // nccl-tests' spelling

// Whether the op involves every rank of the communicator (sequence checks, traces).
bool is_collective(OpType op);

}  // namespace dtbench
