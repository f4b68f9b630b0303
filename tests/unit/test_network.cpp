// The network proof's inputs: EFA counters and interface counters from fake sysfs trees,
// this process's TCP connections, NCCL's choice from recorded log lines, and the verdict on
// a gathered network object.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <vector>

#include "core/app/network_proof.h"
#include "core/report/efa_counters.h"
#include "core/report/files.h"
#include "core/report/net_links.h"
#include "core/report/nccl_log.h"

using namespace dtbench;

namespace {

std::string fixture(const std::string& name) { return std::string(DTBENCH_SOURCE_DIR) + "/tests/data/nccl/" + name; }

NcclNetChoice parse_file(const std::string& name) {
  std::ifstream in(fixture(name));
  REQUIRE(in.good());
  return parse_nccl_log(in);
}

void write(const std::string& path, const std::string& text) {
  make_dirs(parent_dir(path));
  std::ofstream(path) << text << "\n";
}

// A sysfs tree with `devices` EFA devices (counters as given) and one non-EFA device.
std::string fake_sysfs(const std::string& root, int devices, int64_t tx) {
  for (int d = 0; d < devices; ++d) {
    const std::string dev = root + "/class/infiniband/rdmap" + std::to_string(16 + d) + "s27";
    make_dirs(root + "/bus/pci/drivers/efa");
    make_dirs(dev + "/device");
    ::unlink((dev + "/device/driver").c_str());
    REQUIRE(::symlink("../../../../bus/pci/drivers/efa", (dev + "/device/driver").c_str()) == 0);
    write(dev + "/ports/1/hw_counters/tx_bytes", std::to_string(tx + d));
    write(dev + "/ports/1/hw_counters/rx_bytes", std::to_string(2 * tx));
    write(dev + "/ports/1/hw_counters/retrans_pkts", "3");
    write(dev + "/ports/1/hw_counters/lifespan", "12");
  }
  const std::string mlx = root + "/class/infiniband/mlx5_0";
  make_dirs(root + "/bus/pci/drivers/mlx5_core");
  make_dirs(mlx + "/device");
  ::unlink((mlx + "/device/driver").c_str());
  REQUIRE(::symlink("../../../../bus/pci/drivers/mlx5_core", (mlx + "/device/driver").c_str()) == 0);
  write(mlx + "/ports/1/hw_counters/tx_bytes", "999");
  return root;
}

}  // namespace

TEST_CASE("NCCL over aws-ofi-nccl 1.14 on EFA", "[network]") {
  NcclNetChoice c = parse_file("efa_ofi_1.14.log");
  CHECK(c.network == "Libfabric");
  CHECK(c.plugin == "Libfabric");
  CHECK(c.plugin_version == "1.14.0");
  CHECK(c.provider == "efa");
  CHECK(c.net_channels == 3);  // the P2P channel is inside the node
  CHECK(c.gdr);
  CHECK(c.over_libfabric());
  CHECK_FALSE(c.over_sockets());
}

TEST_CASE("NCCL over aws-ofi-nccl 1.7 (older banner and channel names)", "[network]") {
  NcclNetChoice c = parse_file("efa_ofi_1.7.log");
  CHECK(c.network == "AWS Libfabric");
  CHECK(c.plugin_version == "1.7.4-aws");
  CHECK(c.provider == "efa");
  CHECK(c.net_channels == 2);
}

TEST_CASE("NCCL fell back to sockets", "[network]") {
  NcclNetChoice c = parse_file("socket_fallback.log");
  CHECK(c.network == "Socket");
  CHECK(c.over_sockets());
  CHECK(c.plugin.empty());
  CHECK(c.net_channels == 2);
  CHECK_FALSE(c.gdr);
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0].find("message truncated") != std::string::npos);
}

namespace {

// The variables capture_nccl_log reads and sets, restored after each case.
struct NcclEnv {
  const char* names[3] = {"NCCL_DEBUG", "NCCL_DEBUG_FILE", "NCCL_DEBUG_SUBSYS"};
  std::vector<std::optional<std::string>> saved;
  NcclEnv() {
    for (const char* n : names)
      saved.push_back(std::getenv(n) ? std::optional<std::string>(std::getenv(n)) : std::nullopt);
    for (const char* n : names) ::unsetenv(n);
  }
  ~NcclEnv() {
    for (std::size_t i = 0; i < 3; ++i) saved[i] ? ::setenv(names[i], saved[i]->c_str(), 1) : ::unsetenv(names[i]);
  }
};

// What NCCL does with NCCL_DEBUG_FILE: opens it for writing, prints lines, flushes each.
void nccl_writes(const std::vector<std::string>& lines) {
  FILE* f = std::fopen(std::getenv("NCCL_DEBUG_FILE"), "w");
  REQUIRE(f != nullptr);
  for (const auto& l : lines) {
    std::fprintf(f, "%s\n", l.c_str());
    std::fflush(f);
  }
  std::fclose(f);
}

// The file's lines once it holds `n` (the tee thread writes them shortly after).
std::vector<std::string> lines_of(const std::string& path, std::size_t n) {
  std::vector<std::string> out;
  for (int i = 0; i < 500 && out.size() < n; ++i) {
    out.clear();
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    if (out.size() < n) ::usleep(10000);
  }
  return out;
}

const std::vector<std::string> kNcclLines = {
    "node0:101:101 [0] NCCL INFO NCCL version 2.27.3+cuda13.0",
    "node0:101:130 [0] NCCL INFO NET/OFI Selected provider is efa, fabric is efa-direct (found 4 nics)",
    "node0:101:130 [0] NCCL INFO Using network Libfabric",
    "node0:101:130 [0] NCCL WARN NET/OFI something the user must see"};

}  // namespace

TEST_CASE("NCCL's lines reach our log whatever the user set, and theirs as they asked", "[network]") {
  const std::string dir = "/tmp/dtbench-unit-nccl." + std::to_string(::getpid());
  remove_tree(dir);
  SECTION("nothing set: ours only, at INFO with INIT and NET") {
    NcclEnv env;
    const std::string ours = capture_nccl_log(dir, 3);
    CHECK(ours == dir + "/nccl.rank3.log");
    CHECK(std::string(std::getenv("NCCL_DEBUG")) == "INFO");
    CHECK(std::string(std::getenv("NCCL_DEBUG_SUBSYS")) == "INIT,BOOTSTRAP,ENV,NET");
    CHECK(std::string(std::getenv("NCCL_DEBUG_FILE")).rfind("/proc/self/fd/", 0) == 0);
    nccl_writes(kNcclLines);
    CHECK(lines_of(ours, 4).size() == 4);
    std::ifstream again(ours);
    const NcclNetChoice c = parse_nccl_log(again);
    CHECK(c.network == "Libfabric");
    CHECK(c.provider == "efa");
  }
  SECTION("the user's NCCL_DEBUG=WARN and NCCL_DEBUG_FILE with %h.%p: ours all, theirs the warning") {
    NcclEnv env;
    ::setenv("NCCL_DEBUG", "WARN", 1);
    ::setenv("NCCL_DEBUG_FILE", (dir + "/user.%h.%p.log").c_str(), 1);
    ::setenv("NCCL_DEBUG_SUBSYS", "COLL", 1);
    make_dirs(dir);
    const std::string ours = capture_nccl_log(dir, 0);
    CHECK(std::string(std::getenv("NCCL_DEBUG")) == "INFO");
    CHECK(std::string(std::getenv("NCCL_DEBUG_SUBSYS")) == "COLL,INIT,NET");
    nccl_writes(kNcclLines);
    CHECK(lines_of(ours, 4).size() == 4);
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::string h(host);
    const std::string theirs = dir + "/user." + h.substr(0, h.find('.')) + "." + std::to_string(::getpid()) + ".log";
    const auto user = lines_of(theirs, 2);
    REQUIRE(user.size() == 2);  // the version line and the warning, as NCCL_DEBUG=WARN prints
    CHECK(user[0] == kNcclLines[0]);
    CHECK(user[1] == kNcclLines[3]);
  }
  SECTION("the user's NCCL_DEBUG=INFO with a file: theirs gets every line too") {
    NcclEnv env;
    ::setenv("NCCL_DEBUG", "info", 1);
    ::setenv("NCCL_DEBUG_FILE", (dir + "/all.log").c_str(), 1);
    make_dirs(dir);
    const std::string ours = capture_nccl_log(dir, 1);
    CHECK(std::string(std::getenv("NCCL_DEBUG")) == "info");
    nccl_writes(kNcclLines);
    CHECK(lines_of(ours, 4).size() == 4);
    CHECK(lines_of(dir + "/all.log", 4).size() == 4);
  }
  remove_tree(dir);
}

TEST_CASE("EFA counters from a fake sysfs tree, and their deltas", "[network]") {
  char tmpl[] = "/tmp/dtbench-sysfs.XXXXXX";
  const std::string root = ::mkdtemp(tmpl);
  fake_sysfs(root, 2, 1000);
  std::vector<EfaDevice> before = read_efa_devices(root);
  REQUIRE(before.size() == 2);  // mlx5_0 is not EFA
  CHECK(before[0].name == "rdmap16s27");
  CHECK(before[0].counters.at("tx_bytes") == 1000);
  CHECK(before[1].counters.at("tx_bytes") == 1001);
  fake_sysfs(root, 2, 5000);
  nlohmann::json d = efa_counter_delta(before, read_efa_devices(root));
  CHECK(d["tx_bytes"] == 8000);  // 4000 per device
  CHECK(d["rx_bytes"] == 16000);
  CHECK(d["retrans_pkts"] == 0);
  CHECK(d["devices"].size() == 2);
  CHECK(d["devices"][1]["tx_bytes"] == 4000);
  CHECK(read_efa_devices(root + "/nonexistent").empty());
  remove_tree(root);
}

TEST_CASE("network verdicts", "[network]") {
  auto host = [](const std::string& name, int devices, int64_t tx) {
    return nlohmann::json{{"host", name}, {"device_count", devices}, {"tx_bytes", tx}};
  };
  auto rank = [](int r, bool sockets) { return nlohmann::json{{"rank", r}, {"over_sockets", sockets}}; };
  nlohmann::json net;

  net = {{"nodes", 1}, {"hosts", {host("a", 32, 0)}}, {"nccl_ranks", nlohmann::json::array()}};
  judge_network(net);
  CHECK(net["verdict"] == "single_node");
  CHECK(net["warning"].get<std::string>().empty());

  net = {{"nodes", 2}, {"hosts", {host("a", 32, 100), host("b", 32, 200)}}, {"nccl_ranks", {rank(0, false)}}};
  judge_network(net);
  CHECK(net["verdict"] == "efa");
  CHECK(net["efa_devices"] == 64);
  CHECK(net["warning"].get<std::string>().empty());

  net = {{"nodes", 2}, {"hosts", {host("a", 32, 100), host("b", 32, 0)}}, {"nccl_ranks", {rank(0, false)}}};
  judge_network(net);
  CHECK(net["verdict"] == "no_efa_traffic");
  CHECK(net["warning"].get<std::string>().find("on b of this 2-node run") != std::string::npos);

  net = {{"nodes", 2},
         {"hosts", {host("a", 32, 100), host("b", 32, 100)}},
         {"nccl_ranks", {rank(0, false), rank(9, true)}},
         {"nccl_log", "runs/x/nccl.rank0.log"}};
  judge_network(net);
  CHECK(net["verdict"] == "sockets");
  CHECK(net["warning"].get<std::string>().find("plain sockets") != std::string::npos);
  CHECK(net["warning"].get<std::string>().find("rank 9") != std::string::npos);

  // No EFA anywhere: the warning says what carried the bytes, as measured.
  nlohmann::json a = host("a", 0, 0);
  a["links"] = {{"eth0", {{"tx_bytes", 3 << 20}, {"rx_bytes", 1}}}, {"lo", {{"tx_bytes", 9 << 20}, {"rx_bytes", 0}}}};
  net = {{"nodes", 4},
         {"hosts", {a}},
         {"nccl_ranks", nlohmann::json::array()},
         {"transports",
          {{{"library", "mpi"},
            {"transport", "tcp"},
            {"interfaces", {"eth0"}},
            {"connections", 8},
            {"cross_node_connections", 6}},
           {{"library", "mpi"},
            {"transport", "shared_memory"},
            {"interfaces", nlohmann::json::array()},
            {"connections", 0},
            {"cross_node_connections", 0}}}}};
  judge_network(net);
  CHECK(net["verdict"] == "no_efa");
  CHECK(net["warning"] ==
        "this 4-node run crossed nodes over TCP (mpi on eth0), sent by the hosts: 3.0 MiB on eth0, not EFA: no host "
        "has an EFA device; these are not EFA figures");
}

TEST_CASE("interface counters and this process's TCP connections", "[network]") {
  char tmpl[] = "/tmp/dtbench-links.XXXXXX";
  const std::string root = ::mkdtemp(tmpl);
  const std::string header =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier "
      "compressed\n";
  write(root + "/dev", header +
                           "    lo:       7       1    0    0    0     0          0         0        7       1    0 "
                           "   0    0     0       0          0\n  eth0:      50       2    0    0    0     0          0"
                           "         0     1000      12    0    0    0     0       0          0");
  const auto before = read_link_bytes(root + "/dev");
  REQUIRE(before.size() == 2);
  CHECK(before.at("eth0").tx == 1000);
  CHECK(before.at("eth0").rx == 50);
  write(root + "/dev", header +
                           "    lo:       7       1    0    0    0     0          0         0        7       1    0 "
                           "   0    0     0       0          0\n  eth0:      50       2    0    0    0     0          0"
                           "         0     4096      40    0    0    0     0       0          0");
  const auto moved = link_bytes_delta(before, read_link_bytes(root + "/dev"));
  REQUIRE(moved.size() == 1);  // lo did not move
  CHECK(moved.at("eth0").tx == 3096);
  CHECK(moved.at("eth0").rx == 0);
  CHECK(read_link_bytes().count("lo") == 1);  // this process's own namespace
  remove_tree(root);

  // A real loopback connection held by this process is listed from both of its ends.
  const int server = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(server, 1) == 0);
  REQUIRE(::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const int accepted = ::accept(server, nullptr, nullptr);
  REQUIRE(accepted >= 0);
  const int port = ntohs(addr.sin_port);
  int ends = 0;
  for (const TcpConnection& c : own_tcp_connections()) {
    if (c.remote_port != port && c.local_port != port) continue;
    ++ends;
    CHECK(c.local_ip == "127.0.0.1");
    CHECK(c.remote_ip == "127.0.0.1");
    CHECK(c.interface == "lo");
    CHECK(c.remote_is_local);
  }
  CHECK(ends == 2);
  for (const int fd : {accepted, client, server}) ::close(fd);
  CHECK(!maps_mpi_shared_memory());  // no MPI in this process
}
