// One libfabric RDM endpoint (FI_MSG) with its fabric, domain, completion queue and
// address vector: what fabric_perf needs to move bytes between two processes, nothing more.
//
// Every call that can fail throws: a missing provider is a usage error (exit 2, found
// before any communication); anything after that is a runtime failure (exit 3). Waiting for
// completions is bounded by a deadline, so a dead peer never hangs us.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct fi_info;
struct fid_fabric;
struct fid_domain;
struct fid_cq;
struct fid_av;
struct fid_ep;
struct fid_mr;

namespace dtbench::fabric {

// A buffer registered with the domain where the provider asks for it (FI_MR_LOCAL).
class Region {
 public:
  Region(fid_domain* domain, fid_ep* ep, bool need_mr, bool mr_endpoint, size_t bytes);
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  uint8_t* data() { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  void* desc() const { return desc_; }

 private:
  std::vector<uint8_t> bytes_;
  fid_mr* mr_ = nullptr;
  void* desc_ = nullptr;
};

class Endpoint {
 public:
  // Opens the first RDM endpoint of `provider` ("efa", "tcp", "shm", "sockets"); no wait
  // below lasts longer than `timeout_s`.
  Endpoint(const std::string& provider, double timeout_s);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // What fi_getinfo chose: "tcp;ofi_rxm", the fabric and domain names.
  std::string provider_name() const;
  std::string fabric_name() const;
  std::string domain_name() const;
  size_t max_msg_size() const;
  size_t queue_depth() const;  // operations that may be outstanding in each direction

  // This endpoint's address, hex-encoded for the control plane.
  std::string address() const;
  // Adds the peer's address (hex, from address()); returns its fi_addr.
  uint64_t insert_peer(const std::string& hex);

  std::unique_ptr<Region> region(size_t bytes);

  // Posts one send or receive of `bytes` at `buf` (inside `r`); retries FI_EAGAIN while
  // progressing completions (counted into the next wait).
  void post_send(Region& r, size_t offset, size_t bytes, uint64_t peer) { post(true, r, offset, bytes, peer); }
  void post_recv(Region& r, size_t offset, size_t bytes, uint64_t peer) { post(false, r, offset, bytes, peer); }

  // Waits until `sends` send completions and `recvs` receive completions have arrived
  // since the last wait (or until the deadline: RuntimeFailure naming what is missing).
  void wait(int sends, int recvs);

 private:
  struct Contexts;  // fi_context per outstanding operation (providers with FI_CONTEXT mode)
  void post(bool send, Region& r, size_t offset, size_t bytes, uint64_t peer);
  void progress();  // reads what completed, counting by kind
  void check_deadline(double deadline, const char* waiting_for) const;
  double timeout_s_;
  std::unique_ptr<Contexts> contexts_;
  fi_info* info_ = nullptr;
  fid_fabric* fabric_ = nullptr;
  fid_domain* domain_ = nullptr;
  fid_cq* cq_ = nullptr;
  fid_av* av_ = nullptr;
  fid_ep* ep_ = nullptr;
  bool need_mr_ = false, mr_endpoint_ = false;
  int done_sends_ = 0, done_recvs_ = 0;
  int posted_sends_ = 0, posted_recvs_ = 0;  // outstanding, to keep within queue_depth
};

}  // namespace dtbench::fabric
