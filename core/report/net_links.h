// What a process can measure of the network it used, without any library's help: the byte
// counters of this host's interfaces, and the TCP connections this process holds (which
// library opened them is told by their endpoints: core/app/network_proof).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dtbench {

struct LinkBytes {
  int64_t tx = 0, rx = 0;
};

// Every interface of this process's network namespace with its byte counters now, from
// /proc/self/net/dev (per namespace, unlike /sys/class/net, which shows the namespace of
// whoever mounted sysfs; DTBENCH_SYSFS_ROOT fakes EFA only).
std::map<std::string, LinkBytes> read_link_bytes(const std::string& dev = "/proc/self/net/dev");

// after - before per interface, only those whose counters moved.
std::map<std::string, LinkBytes> link_bytes_delta(const std::map<std::string, LinkBytes>& before,
                                                  const std::map<std::string, LinkBytes>& after);

struct TcpConnection {
  std::string local_ip, remote_ip;  // numeric, as inet_ntop writes them
  int local_port = 0, remote_port = 0;
  std::string interface;         // the interface that holds local_ip ("" when none does)
  bool remote_is_local = false;  // remote_ip is an address of this host
};

// The established TCP connections (IPv4 and IPv6) whose sockets this process holds: the
// sockets of /proc/net/tcp{,6} whose inode is one of /proc/self/fd's.
std::vector<TcpConnection> own_tcp_connections();

// Whether /proc/self/maps maps a shared-memory segment of Open MPI's (vader_segment in Open
// MPI 4, sm_segment in 5): ranks on one host then talk through shared memory.
bool maps_mpi_shared_memory();

}  // namespace dtbench
