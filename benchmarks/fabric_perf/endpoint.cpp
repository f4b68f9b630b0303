#include "benchmarks/fabric_perf/endpoint.h"

#include <fmt/format.h>
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>

#include <algorithm>
#include <cstring>

#include "core/comm/fabric_version.h"
#include "core/report/clock.h"
#include "core/report/errors.h"

namespace dtbench::fabric {

namespace {

// The API version we speak; 1.9 has everything RDM messaging needs and every provider we
// name supports it.
constexpr uint32_t kApi = FI_VERSION(1, 9);

void check(int rc, const char* what) {
  if (rc != 0) throw RuntimeFailure(fmt::format("libfabric {}: {} ({})", what, fi_strerror(-rc), rc));
}

fi_info* rdm_hints(const std::string& provider) {
  fi_info* h = fi_allocinfo();
  h->caps = FI_MSG;
  h->mode = FI_CONTEXT;  // we hand every operation its own fi_context
  h->ep_attr->type = FI_EP_RDM;
  // Everything a provider may ask of our buffers; EFA needs local registration.
  h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT;
  h->domain_attr->threading = FI_THREAD_DOMAIN;
  h->fabric_attr->prov_name = strdup(provider.c_str());
  return h;
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

}  // namespace

struct Endpoint::Contexts {
  struct Op {
    fi_context ctx;  // first: the completion hands back its address
    bool send;
  };
  std::vector<Op> ops;
  std::vector<Op*> free;
  explicit Contexts(size_t n) : ops(n) {
    for (auto& o : ops) free.push_back(&o);
  }
};

Region::Region(fid_domain* domain, fid_ep* ep, bool need_mr, bool mr_endpoint, size_t bytes)
    : bytes_(std::max<size_t>(bytes, 1)) {
  if (!need_mr) return;
  check(fi_mr_reg(domain, bytes_.data(), bytes_.size(), FI_SEND | FI_RECV, 0, 0, 0, &mr_, nullptr), "fi_mr_reg");
  if (mr_endpoint) {
    check(fi_mr_bind(mr_, &ep->fid, 0), "fi_mr_bind");
    check(fi_mr_enable(mr_), "fi_mr_enable");
  }
  desc_ = fi_mr_desc(mr_);
}

Region::~Region() {
  if (mr_) fi_close(&mr_->fid);
}

Endpoint::Endpoint(const std::string& provider, double timeout_s) : timeout_s_(timeout_s) {
  fi_info* hints = rdm_hints(provider);
  const int rc = fi_getinfo(kApi, nullptr, nullptr, 0, hints, &info_);
  fi_freeinfo(hints);
  if (rc != 0 || !info_) {
    std::string have;
    for (auto& p : libfabric_providers()) have += (have.empty() ? "" : ", ") + p;
    throw UsageError(
        fmt::format("--provider {}: libfabric {} offers no RDM endpoint for it ({}); providers here: "
                    "{}; pick one of those (for tcp over loopback set FI_TCP_IFACE=lo)",
                    provider, libfabric_version(), fi_strerror(-rc), have.empty() ? "none" : have));
  }
  need_mr_ = info_->domain_attr->mr_mode & FI_MR_LOCAL;
  mr_endpoint_ = info_->domain_attr->mr_mode & FI_MR_ENDPOINT;
  check(fi_fabric(info_->fabric_attr, &fabric_, nullptr), "fi_fabric");
  check(fi_domain(fabric_, info_, &domain_, nullptr), "fi_domain");
  fi_cq_attr cq_attr{};
  cq_attr.format = FI_CQ_FORMAT_CONTEXT;
  cq_attr.size = 2 * queue_depth() + 16;
  check(fi_cq_open(domain_, &cq_attr, &cq_, nullptr), "fi_cq_open");
  fi_av_attr av_attr{};
  av_attr.type = FI_AV_TABLE;
  check(fi_av_open(domain_, &av_attr, &av_, nullptr), "fi_av_open");
  check(fi_endpoint(domain_, info_, &ep_, nullptr), "fi_endpoint");
  check(fi_ep_bind(ep_, &cq_->fid, FI_TRANSMIT | FI_RECV), "fi_ep_bind(cq)");
  check(fi_ep_bind(ep_, &av_->fid, 0), "fi_ep_bind(av)");
  check(fi_enable(ep_), "fi_enable");
  contexts_ = std::make_unique<Contexts>(2 * queue_depth());
}

Endpoint::~Endpoint() {
  if (ep_) fi_close(&ep_->fid);
  if (av_) fi_close(&av_->fid);
  if (cq_) fi_close(&cq_->fid);
  if (domain_) fi_close(&domain_->fid);
  if (fabric_) fi_close(&fabric_->fid);
  if (info_) fi_freeinfo(info_);
}

std::string Endpoint::provider_name() const { return info_->fabric_attr->prov_name; }
std::string Endpoint::fabric_name() const { return info_->fabric_attr->name ? info_->fabric_attr->name : ""; }
std::string Endpoint::domain_name() const { return info_->domain_attr->name ? info_->domain_attr->name : ""; }
size_t Endpoint::max_msg_size() const { return info_->ep_attr->max_msg_size; }
size_t Endpoint::queue_depth() const {
  // Bounded so that the context pool and completion queue stay small.
  return std::min<size_t>({info_->tx_attr->size, info_->rx_attr->size, 256});
}

std::string Endpoint::address() const {
  uint8_t buf[256];
  size_t len = sizeof buf;
  check(fi_getname(&ep_->fid, buf, &len), "fi_getname");
  return hex(buf, len);
}

uint64_t Endpoint::insert_peer(const std::string& h) {
  std::vector<uint8_t> bytes(h.size() / 2);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(std::stoi(h.substr(2 * i, 2), nullptr, 16));
  fi_addr_t addr = FI_ADDR_UNSPEC;
  const int n = fi_av_insert(av_, bytes.data(), 1, &addr, 0, nullptr);
  if (n != 1) throw RuntimeFailure(fmt::format("libfabric fi_av_insert: the peer's address was not accepted ({})", n));
  return addr;
}

std::unique_ptr<Region> Endpoint::region(size_t bytes) {
  return std::make_unique<Region>(domain_, ep_, need_mr_, mr_endpoint_, bytes);
}

void Endpoint::progress() {
  fi_cq_entry entries[64];
  const ssize_t n = fi_cq_read(cq_, entries, 64);
  if (n == -FI_EAGAIN) return;
  if (n == -FI_EAVAIL) {
    fi_cq_err_entry err{};
    fi_cq_readerr(cq_, &err, 0);
    throw RuntimeFailure(fmt::format("libfabric completion error: {} (provider: {})", fi_strerror(err.err),
                                     fi_cq_strerror(cq_, err.prov_errno, err.err_data, nullptr, 0)));
  }
  if (n < 0) check(static_cast<int>(n), "fi_cq_read");
  for (ssize_t i = 0; i < n; ++i) {
    auto* op = static_cast<Contexts::Op*>(entries[i].op_context);
    if (op->send) {
      ++done_sends_;
      --posted_sends_;
    } else {
      ++done_recvs_;
      --posted_recvs_;
    }
    contexts_->free.push_back(op);
  }
}

void Endpoint::post(bool send, Region& r, size_t offset, size_t bytes, uint64_t peer) {
  const char* name = send ? "fi_send" : "fi_recv";
  int& posted = send ? posted_sends_ : posted_recvs_;
  const double deadline = now_s() + timeout_s_;
  while (posted >= static_cast<int>(queue_depth())) {
    progress();
    check_deadline(deadline, send ? "a free send queue slot" : "a free receive queue slot");
  }
  Contexts::Op* op = contexts_->free.back();
  contexts_->free.pop_back();
  op->send = send;
  for (;;) {
    const ssize_t rc = send ? fi_send(ep_, r.data() + offset, bytes, r.desc(), peer, &op->ctx)
                            : fi_recv(ep_, r.data() + offset, bytes, r.desc(), peer, &op->ctx);
    if (rc == 0) break;
    if (rc != -FI_EAGAIN) check(static_cast<int>(rc), name);
    progress();
    check_deadline(deadline, send ? "fi_send to accept" : "fi_recv to accept");
  }
  ++posted;
}

void Endpoint::check_deadline(double deadline, const char* waiting_for) const {
  if (now_s() > deadline)
    throw RuntimeFailure(
        fmt::format("libfabric: waited --comm-timeout {} s for {}; the peer died or the fabric is "
                    "stuck",
                    timeout_s_, waiting_for));
}

void Endpoint::wait(int sends, int recvs) {
  const double deadline = now_s() + timeout_s_;
  while (done_sends_ < sends || done_recvs_ < recvs) {
    progress();
    if (now_s() > deadline)
      throw RuntimeFailure(
          fmt::format("libfabric: {} of {} sends and {} of {} receives completed within "
                      "--comm-timeout {} s; the peer died or the fabric is stuck",
                      done_sends_, sends, done_recvs_, recvs, timeout_s_));
  }
  done_sends_ -= sends;
  done_recvs_ -= recvs;
}

}  // namespace dtbench::fabric
