// What network NCCL chose, read from its own INFO lines: the aws-ofi-nccl plugin over a
// libfabric provider (EFA), InfiniBand, or plain sockets, the fallback that costs AWS's
// users days because nothing fails, it is only slow.
//
// Every rank's NCCL writes its lines to <run-dir>/nccl.rank<R>.log (NCCL_DEBUG_FILE), set
// up before the first communicator unless the user chose NCCL_DEBUG themselves.
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

// Sets NCCL_DEBUG=INFO, NCCL_DEBUG_SUBSYS=INIT,NET and NCCL_DEBUG_FILE=<run_dir>/nccl.rank<R>.log
// when NCCL_DEBUG and NCCL_DEBUG_FILE are unset, so that NCCL's choice can be read back
// without its lines flooding stdout. Returns the file NCCL will write ("" when the user
// routes NCCL's output elsewhere). Call before NCCL's first communicator.
std::string capture_nccl_log(const std::string& run_dir, int rank);

}  // namespace dtbench
