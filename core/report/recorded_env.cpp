#include "core/report/recorded_env.h"

#include <algorithm>
#include <cctype>

namespace dtbench {

const std::vector<std::string>& recorded_variables() {
  static const std::vector<std::string> names = {
      // NCCL: algorithm, protocol, channels, transports, topology, plugins, logging.
      "NCCL_ALGO", "NCCL_PROTO", "NCCL_MIN_NCHANNELS", "NCCL_MAX_NCHANNELS", "NCCL_MIN_CTAS", "NCCL_MAX_CTAS",
      "NCCL_NTHREADS", "NCCL_BUFFSIZE", "NCCL_NET", "NCCL_NET_PLUGIN", "NCCL_TUNER_PLUGIN", "NCCL_IB_DISABLE",
      "NCCL_IB_HCA", "NCCL_IB_GID_INDEX", "NCCL_IB_TIMEOUT", "NCCL_IB_RETRY_CNT", "NCCL_IB_SL", "NCCL_IB_TC",
      "NCCL_P2P_DISABLE", "NCCL_P2P_LEVEL", "NCCL_P2P_NET_CHUNKSIZE", "NCCL_SHM_DISABLE", "NCCL_SOCKET_IFNAME",
      "NCCL_SOCKET_NTHREADS", "NCCL_NSOCKS_PERTHREAD", "NCCL_CROSS_NIC", "NCCL_NVLS_ENABLE", "NCCL_NVLS_CHUNKSIZE",
      "NCCL_COLLNET_ENABLE", "NCCL_NET_GDR_LEVEL", "NCCL_NET_GDR_READ", "NCCL_TOPO_FILE", "NCCL_GRAPH_FILE",
      "NCCL_IGNORE_CPU_AFFINITY", "NCCL_CUMEM_ENABLE", "NCCL_LAUNCH_MODE", "NCCL_WORK_FIFO_DEPTH",
      "NCCL_RUNTIME_CONNECT", "NCCL_NCHANNELS_PER_NET_PEER", "NCCL_DEBUG", "NCCL_DEBUG_SUBSYS", "NCCL_DEBUG_FILE",
      // libfabric and its EFA provider.
      "FI_PROVIDER", "FI_EFA_USE_DEVICE_RDMA", "FI_EFA_FORK_SAFE", "FI_EFA_USE_HUGE_PAGE", "FI_EFA_ENABLE_SHM_TRANSFER",
      "FI_EFA_SET_CUDA_SYNC_MEMOPS", "FI_EFA_TX_SIZE", "FI_EFA_RX_SIZE", "FI_EFA_RECVWIN_SIZE", "FI_EFA_RUNT_SIZE",
      "FI_EFA_INTER_MAX_MEDIUM_MESSAGE_SIZE", "FI_EFA_USE_ZCPY_RX", "FI_HMEM", "FI_HMEM_CUDA_USE_GDRCOPY",
      "FI_TCP_IFACE", "FI_SOCKETS_IFACE", "FI_UNIVERSE_SIZE", "FI_LOG_LEVEL", "FI_LOG_PROV",
      // aws-ofi-nccl.
      "OFI_NCCL_PROTOCOL", "OFI_NCCL_NIC_DUP_CONNS", "OFI_NCCL_CUDA_FLUSH_ENABLE", "OFI_NCCL_TUNER_FORCE",
      "OFI_NCCL_ROUND_ROBIN_THRESHOLD", "OFI_NCCL_RDMA_MIN_POSTED_BUFFERS", "OFI_NCCL_EAGER_MAX_SIZE",
      "OFI_NCCL_FORCE_NUM_RAILS", "OFI_NCCL_DISABLE_GDR_REQUIRED_CHECK", "OFI_NCCL_DISABLE_NATIVE_RDMA_CHECK",
      "OFI_NCCL_USE_IPV6_TCP",
      // CUDA.
      "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_DEVICE_MAX_CONNECTIONS", "CUDA_LAUNCH_BLOCKING",
      "CUDA_MODULE_LOADING", "CUDA_CACHE_DISABLE"};
  return names;
}

nlohmann::json recorded_environment(const std::vector<std::pair<std::string, std::string>>& env) {
  const auto& allowed = recorded_variables();
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : env) {
    std::string upper = name;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    bool under_prefix = false;
    for (const char* prefix : {"NCCL_", "FI_", "OFI_NCCL_", "CUDA_"})
      under_prefix = under_prefix || upper.rfind(prefix, 0) == 0;
    if (!under_prefix) continue;
    const bool known = std::find(allowed.begin(), allowed.end(), name) != allowed.end();
    out[name] = known ? value : "<not recorded>";
  }
  return out;
}

}  // namespace dtbench
