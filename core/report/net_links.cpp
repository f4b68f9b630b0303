#include "core/report/net_links.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "core/report/files.h"

namespace dtbench {

namespace {

// Numeric address -> interface, for every address of this host's interfaces.
std::map<std::string, std::string> address_interfaces() {
  std::map<std::string, std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    char buf[INET6_ADDRSTRLEN] = {0};
    const int family = a->ifa_addr->sa_family;
    if (family == AF_INET)
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
    else if (family == AF_INET6)
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, buf, sizeof buf);
    else
      continue;
    out.emplace(buf, a->ifa_name);
  }
  ::freeifaddrs(list);
  return out;
}

// "0100007F:1F90" (IPv4) or 32 hex digits and a port (IPv6), as /proc/net/tcp{,6} print
// them: each 32-bit word in the kernel's byte order, so it is copied back unchanged.
bool parse_endpoint(const std::string& text, bool v6, std::string& ip, int& port) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon != (v6 ? 32U : 8U)) return false;
  uint32_t words[4] = {0, 0, 0, 0};
  for (size_t w = 0; w < (v6 ? 4U : 1U); ++w)
    words[w] = static_cast<uint32_t>(std::strtoul(text.substr(w * 8, 8).c_str(), nullptr, 16));
  char buf[INET6_ADDRSTRLEN] = {0};
  if (::inet_ntop(v6 ? AF_INET6 : AF_INET, words, buf, sizeof buf) == nullptr) return false;
  ip = buf;
  // An IPv4 peer of an IPv6 socket: the plain IPv4 form, as interfaces list it.
  if (v6 && ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos) ip = ip.substr(7);
  port = static_cast<int>(std::strtol(text.substr(colon + 1).c_str(), nullptr, 16));
  return true;
}

std::set<std::string> own_socket_inodes() {
  std::set<std::string> inodes;
  for (const std::string& fd : list_dir("/proc/self/fd")) {
    char buf[64] = {0};
    const std::string path = "/proc/self/fd/" + fd;
    const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    const std::string target(buf, n > 0 ? static_cast<size_t>(n) : 0);
    if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  return inodes;
}

}  // namespace

std::map<std::string, LinkBytes> read_link_bytes(const std::string& dev) {
  // "  eth0: RX-bytes packets errs drop fifo frame compressed multicast TX-bytes ...", after
  // two header lines.
  std::map<std::string, LinkBytes> out;
  std::ifstream in(dev);
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos || line.find('|') != std::string::npos) continue;
    std::istringstream f(line.substr(colon + 1));
    long long v[9] = {0};
    for (long long& x : v) f >> x;
    if (!f) continue;
    const size_t start = line.find_first_not_of(' ');
    out[line.substr(start, colon - start)] = {v[8], v[0]};
  }
  return out;
}

std::map<std::string, LinkBytes> link_bytes_delta(const std::map<std::string, LinkBytes>& before,
                                                  const std::map<std::string, LinkBytes>& after) {
  std::map<std::string, LinkBytes> out;
  for (const auto& [name, a] : after) {
    const auto b = before.find(name);
    if (b == before.end()) continue;
    const LinkBytes d{a.tx - b->second.tx, a.rx - b->second.rx};
    if (d.tx != 0 || d.rx != 0) out[name] = d;
  }
  return out;
}

std::vector<TcpConnection> own_tcp_connections() {
  const std::set<std::string> inodes = own_socket_inodes();
  const std::map<std::string, std::string> interfaces = address_interfaces();
  std::vector<TcpConnection> out;
  for (const bool v6 : {false, true}) {
    std::ifstream in(v6 ? "/proc/self/net/tcp6" : "/proc/self/net/tcp");
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      if (!(f >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode))
        continue;
      if (state != "01" || inodes.count(inode) == 0) continue;  // 01: ESTABLISHED
      TcpConnection c;
      if (!parse_endpoint(local, v6, c.local_ip, c.local_port) ||
          !parse_endpoint(remote, v6, c.remote_ip, c.remote_port))
        continue;
      const auto it = interfaces.find(c.local_ip);
      c.interface = it == interfaces.end() ? "" : it->second;
      c.remote_is_local = interfaces.count(c.remote_ip) > 0;
      out.push_back(c);
    }
  }
  return out;
}

bool maps_mpi_shared_memory() {
  std::ifstream in("/proc/self/maps");
  std::string line;
  while (std::getline(in, line))
    if (line.find("vader_segment") != std::string::npos || line.find("sm_segment") != std::string::npos) return true;
  return false;
}

}  // namespace dtbench
