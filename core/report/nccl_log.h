// What network NCCL chose, read from its own INFO lines: the aws-ofi-nccl plugin over a
// libfabric provider (EFA), InfiniBand, or plain sockets, the fallback that costs AWS's
// users days because nothing fails, it is only slow.
//
// Every rank's NCCL lines reach <run-dir>/nccl.rank<R>.log through capture_nccl_log, whatever
// NCCL_DEBUG and NCCL_DEBUG_FILE the user set (their output is kept as they asked for it).
#pragma once

#include <nlohmann/json.hpp>

#include <istream>
#include <string>

namespace dtbench {

struct NcclNetChoice {
  std::string network;                // "AWS Libfabric", "Libfabric", "IB", "Socket", "" (no line seen)
  std::string plugin;                 // the net plugin NCCL loaded ("" = none: internal IB/Socket)
  std::string plugin_version;         // "1.13.2-aws" from the OFI plugin's banner
  std::string provider;               // the libfabric provider the OFI plugin selected ("efa")
  int net_channels = 0;               // channels whose transport is NET/... (traffic between nodes)
  bool gdr = false;                   // a NET channel used GPUDirect RDMA
  int lines = 0;                      // NCCL lines read
  std::vector<std::string> warnings;  // "NCCL WARN" lines, kept to echo

  bool over_sockets() const { return network == "Socket"; }
  bool over_libfabric() const { return network.find("Libfabric") != std::string::npos; }
};

NcclNetChoice parse_nccl_log(std::istream& in);
nlohmann::json to_json(const NcclNetChoice& c);

// Captures NCCL's lines whatever the user's settings: NCCL writes them into a pipe
// (NCCL_DEBUG_FILE=/proc/self/fd/N) that a thread of ours drains into
// <run_dir>/nccl.rank<R>.log, every line, at level INFO with the INIT and NET sub-systems at
// least; and into what the user asked for, as NCCL would have written it: their
// NCCL_DEBUG_FILE (%h and %p expanded as NCCL does) or stdout when they set NCCL_DEBUG alone,
// only the lines of their level (WARN: warnings and the version line). Their sub-systems gain
// INIT and NET. Returns our file ("" when it cannot be made). Call before NCCL's first
// communicator (NCCL reads these variables once).
std::string capture_nccl_log(const std::string& run_dir, int rank);

}  // namespace dtbench
