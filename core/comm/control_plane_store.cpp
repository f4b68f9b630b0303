// The TCP-store control plane (launches without MPI).
#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "core/comm/control_plane.h"
#include "core/comm/launch_env.h"
#include "core/comm/store_auth.h"
#include "core/comm/watchdog.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/log.h"
#include "core/report/system_info.h"

namespace dtbench {

namespace {

// c10d's errors carry a backtrace; a message needs the first line.
std::string first_line(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  const std::string s = c10_error ? c10_error->what_without_backtrace() : e.what();
  return s.substr(0, s.find('\n'));
}

class StorePlane final : public ControlPlane {
 public:
  StorePlane(c10::intrusive_ptr<c10d::Store> store, std::shared_ptr<const StoreAuth> auth, std::string where,
             std::string prefix, int rank, int size)
      : store_(std::move(store)),
        auth_(std::move(auth)),
        where_(std::move(where)),
        prefix_(std::move(prefix)),
        rank_(rank),
        size_(size) {}

  // The world's plane, on the rank that serves the store: at the end, wait (a bounded time)
  // until every rank has said it is leaving, so that no rank loses the store while it still
  // reads its last exchange.
  void own_store(bool serving, double wait_s) {
    owner_ = true;
    serving_ = serving;
    depart_wait_s_ = wait_s;
  }
  ~StorePlane() override {
    if (!owner_) return;
    try {
      const std::string key = auth_->key(prefix_ + "/departed");
      store_->add(key, 1);
      const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(depart_wait_s_);
      while (serving_ && store_->add(key, 0) < size_ && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } catch (const std::exception&) {
      // The store or a peer is gone already: nothing left to wait for.
    }
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string kind() const override { return "store"; }
  std::string last_exchange() const override {
    return fmt::format("store key '{}/ag{}' at {}", prefix_, round_ - 1, where_);
  }

  std::vector<std::string> all_gather(const std::string& mine) override {
    const uint64_t round = round_++;
    std::optional<Watchdog::Call> call;
    if (traced_)
      call.emplace(Watchdog::instance(), OpTrace{prefix_, round, "store all_gather", fmt::format("{} ranks", size_)});
    auto key = [&](uint64_t r, int who) { return fmt::format("{}/ag{}/{}", prefix_, r, who); };
    const std::size_t my_pieces = put(key(round, rank_), mine);
    std::vector<std::string> keys;
    for (int r = 0; r < size_; ++r) keys.push_back(auth_->key(key(round, r)));
    try {
      store_->wait(keys);
    } catch (const std::exception& e) {
      throw RuntimeFailure(
          fmt::format("store at {} timed out in all_gather round {} of '{}': a peer did not "
                      "arrive within --comm-timeout ({})",
                      where_, round, prefix_, first_line(e)));
    }
    std::vector<std::string> out;
    for (int r = 0; r < size_; ++r) out.push_back(take(key(round, r)));
    // Everyone has set this round, so everyone has read the previous one: drop our old keys.
    if (round > 0) {
      store_->deleteKey(auth_->key(key(round - 1, rank_)));
      for (std::size_t i = 0; i < last_pieces_; ++i)
        store_->deleteKey(auth_->key(fmt::format("{}/p{}", key(round - 1, rank_), i)));
    }
    last_pieces_ = my_pieces;
    return out;
  }

  std::unique_ptr<ControlPlane> split(int color, int key) override {
    auto all = all_gather(split_request(color, key));
    const uint64_t n = splits_++;
    if (color < 0) return nullptr;
    const std::vector<int> members = split_members(all, color);
    const int child_rank = static_cast<int>(std::find(members.begin(), members.end(), rank_) - members.begin());
    // A connection of its own: each group runs its ops on its own thread, and c10d's client
    // holds its connection for the whole of a wait, so groups sharing one would block each
    // other (hybrid sharding deadlocked: a shard group waiting for a peer that needed this
    // rank's replicate group to post first).
    return std::make_unique<StorePlane>(store_->clone(), auth_, where_, fmt::format("{}/s{}c{}", prefix_, n, color),
                                        child_rank, static_cast<int>(members.size()));
  }

 private:
  // c10d's store server refuses a value above 8 MiB ("Invalid payload size"): a larger one
  // goes in pieces, set before the key the readers wait for, which then holds their count.
  // The key's first byte says which: 'w' the whole value follows, 'p' a count of pieces.
  static constexpr std::size_t kPiece = std::size_t{4} << 20;
  std::size_t put(const std::string& k, const std::string& v) {
    auto set = [&](const std::string& key, const std::string& value) {
      store_->set(auth_->key(key), auth_->seal(key, value));
    };
    if (v.size() <= kPiece) {
      set(k, 'w' + v);
      return 0;
    }
    const std::size_t n = (v.size() + kPiece - 1) / kPiece;
    for (std::size_t i = 0; i < n; ++i) set(fmt::format("{}/p{}", k, i), v.substr(i * kPiece, kPiece));
    set(k, 'p' + std::to_string(n));
    return n;
  }
  std::string take(const std::string& k) {
    auto get = [&](const std::string& key) { return auth_->open(key, store_->get(auth_->key(key))); };
    std::string head = get(k);
    DT_CHECK(!head.empty() && (head[0] == 'w' || head[0] == 'p'), "store key '{}': not an all_gather value", k);
    if (head[0] == 'w') return head.erase(0, 1);
    const std::size_t n = std::stoul(head.substr(1));
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += get(fmt::format("{}/p{}", k, i));
    return out;
  }

  c10::intrusive_ptr<c10d::Store> store_;
  std::shared_ptr<const StoreAuth> auth_;
  std::string where_;  // host:port, for messages
  std::string prefix_;
  int rank_, size_;
  uint64_t round_ = 0, splits_ = 0;
  std::size_t last_pieces_ = 0;  // of this rank's value in the previous round
  bool owner_ = false, serving_ = false;
  double depart_wait_s_ = 0;
};

}  // namespace

std::vector<std::string> ControlPlane::all_gather_exact(const std::string& mine, std::size_t bytes, int only_rank) {
  auto parts = all_gather(mine);
  for (int r = 0; r < static_cast<int>(parts.size()); ++r) {
    if ((only_rank < 0 || r == only_rank) && parts[r].size() != bytes)
      throw RuntimeFailure(
          fmt::format("{}: rank {} sent {} bytes where {} were expected (the ranks disagree on "
                      "the buffer size, or the exchange was altered)",
                      last_exchange(), r, parts[r].size(), bytes));
  }
  return parts;
}

std::string split_request(int color, int key) { return fmt::format("{} {}", color, key); }

std::vector<int> split_members(const std::vector<std::string>& color_keys, int color) {
  std::vector<std::pair<int, int>> members;  // (key, rank)
  for (int r = 0; r < static_cast<int>(color_keys.size()); ++r) {
    int c = 0, k = 0;
    if (std::sscanf(color_keys[r].c_str(), "%d %d", &c, &k) == 2 && c == color) members.emplace_back(k, r);
  }
  std::sort(members.begin(), members.end());
  std::vector<int> ranks;
  for (auto& m : members) ranks.push_back(m.second);
  return ranks;
}

namespace {

// Waits until `host` resolves: a Kubernetes pod's name (a headless Service's record) may
// appear only after the pod that looks it up has started. Gives up after `timeout_s`.
void wait_for_name(const std::string& host, double timeout_s) {
  const Stopwatch clock;
  for (int attempt = 0;; ++attempt) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (found) ::freeaddrinfo(found);
    if (rc == 0) return;
    if (clock.elapsed_s() > timeout_s)
      throw UsageError(
          fmt::format("MASTER_ADDR {} did not resolve within --comm-timeout ({:.0f} s): {}; give the "
                      "rendezvous host's name or address (MASTER_ADDR, dtbench-launch --master-addr)",
                      host, timeout_s, ::gai_strerror(rc)));
    if (attempt == 0) logf("rendezvous host {} does not resolve yet ({}); retrying", host, ::gai_strerror(rc));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// A socket listening on the rendezvous address itself, for TCPStore to take over
// (masterListenFd): c10d's own server would listen on every interface of the host. -1 when
// `host` is not an address of this host (every bind: EADDRNOTAVAIL).
int listen_on(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) throw RuntimeFailure(fmt::format("cannot resolve {}: {}", host, ::gai_strerror(rc)));
  int err = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) {
      ::freeaddrinfo(found);
      return fd;
    }
    err = errno;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (err == EADDRNOTAVAIL) return -1;
  throw RuntimeFailure(fmt::format("cannot listen on {}:{}: {}", host, port, std::strerror(err)));
}

// A refused rendezvous (below) ends every process that came to it with the same line. Each
// says it has read the refusal; the serving process keeps the store up until all that arrived
// have (within `linger_s`), so that none finds the store gone and blames the network.
struct Refusal {
  c10d::Store& store;
  const StoreAuth& auth;
  bool serving;
  double linger_s;

  [[noreturn]] void end(const std::string& why) const {
    try {
      store.add(auth.key("refusal-read"), 1);
      const Stopwatch clock;
      while (serving && clock.elapsed_s() < linger_s &&
             store.add(auth.key("refusal-read"), 0) < store.add(auth.key("arrived"), 0))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } catch (const std::exception&) {  // the store is gone: the refusal still stands
    }
    throw UsageError(why);
  }

  // The refusal, if one was made.
  void check() const {
    const std::vector<std::string> key{auth.key("refused")};
    if (store.check(key)) end(auth.open("refused", store.get(key[0])));
  }
};

// This process's claim on `rank`, made before it greets: the first claim wins (compareSet on
// an absent key). A second claim means two nodes were given the same node rank (or two jobs
// share one rendezvous): the second claimer names both hosts under "refused" (the first
// refusal stands), so that every process exits 2 with that one line instead of waiting for
// ranks that never come.
void claim_rank(c10d::Store& store, const StoreAuth& auth, int rank, const Refusal& refusal) {
  store.add(auth.key("arrived"), 1);
  const std::string name = fmt::format("claim/{}", rank);
  const std::string me = fmt::format("{} (pid {})", short_hostname(), ::getpid());
  const std::vector<uint8_t> mine = auth.seal(name, me);
  const std::vector<uint8_t> first = store.compareSet(auth.key(name), {}, mine);
  if (first == mine) return;
  const std::string why = fmt::format(
      "rank {} is claimed twice, by {} and by {}: two nodes were given the same node rank (or two jobs share "
      "MASTER_ADDR:MASTER_PORT); give each node its own --node-rank 0..N-1 and each job its own port",
      rank, auth.open(name, first), me);
  refusal.end(auth.open("refused", store.compareSet(auth.key("refused"), {}, auth.seal("refused", why))));
}

// Waits for `keys`, polling (a c10d wait cut short by its timeout leaves its answer in the
// socket), and for a refusal that ends the rendezvous for every rank.
void wait_for_keys(c10d::Store& store, const std::vector<std::string>& keys, const Refusal& refusal, double timeout_s,
                   const std::string& where) {
  const Stopwatch clock;
  for (int pause_ms = 5;; pause_ms = std::min(pause_ms * 2, 500)) {
    if (store.check(keys)) return;
    refusal.check();
    if (clock.elapsed_s() > timeout_s)
      throw RuntimeFailure(
          fmt::format("store at {}: not every rank arrived within --comm-timeout ({:.0f} s)", where, timeout_s));
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
}

// Every rank's greeting under a name all ranks know, sealed with its token: ranks given
// different tokens (whose other keys' names differ, so they would only time out) are told so.
// Each rank then says it has read the greetings; when one fails, the serving rank keeps the
// store up until all have (within `linger_s`), so every rank reads why instead of finding
// the store gone ("connection reset") and blaming a timeout.
void greet(c10d::Store& store, const StoreAuth& auth, int rank, int size, bool serving, double timeout_s,
           const std::string& where) {
  const Refusal refusal{store, auth, serving, std::min(timeout_s, 30.0)};
  claim_rank(store, auth, rank, refusal);
  auto name = [](int r) { return fmt::format("hello/{}", r); };
  store.set("dtbench/" + name(rank), auth.seal(name(rank), ""));
  std::vector<std::string> keys;
  std::vector<std::string> read;
  for (int r = 0; r < size; ++r) {
    keys.push_back("dtbench/" + name(r));
    read.push_back(fmt::format("dtbench/greeted/{}", r));
  }
  wait_for_keys(store, keys, refusal, timeout_s, where);
  int failed = -1;
  for (int r = 0; r < size && failed < 0; ++r) {
    try {
      auth.open(name(r), store.get(keys[r]));
    } catch (const RuntimeFailure&) {
      failed = r;
    }
  }
  if (failed < 0) return;
  try {
    store.set(read[rank], "");
    if (serving) store.wait(read, std::chrono::milliseconds(static_cast<int64_t>(refusal.linger_s * 1000)));
  } catch (const std::exception&) {  // a rank that never reads: the failure below still stands
  }
  throw RuntimeFailure(
      fmt::format("store at {}: rank {}'s greeting fails its authentication: the ranks were "
                  "given different DTBENCH_JOB_TOKENs (or a client without the token wrote it); "
                  "give every rank the same one",
                  where, failed));
}

}  // namespace

StoreOptions store_options(const LaunchInfo& launch, double timeout_s, const EnvMap& env) {
  StoreOptions so;
  so.host = launch.master_addr;
  so.port = launch.master_port;
  so.rank = launch.rank;
  so.size = launch.world_size;
  so.serve = !launch.agent_store;
  so.timeout_s = timeout_s;
  so.token = store_job_token(env, so.host).value;
  return so;
}

std::unique_ptr<ControlPlane> make_store_control_plane(const StoreOptions& opt) {
  wait_for_name(opt.host, opt.timeout_s);
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(opt.port);
  o.isServer = opt.serve && opt.rank == 0;
  o.numWorkers = opt.size;
  o.waitWorkers = false;
  o.timeout = std::chrono::milliseconds(static_cast<int64_t>(opt.timeout_s * 1000));
  c10::intrusive_ptr<c10d::Store> store;
  // Rank 0 on a host that does not own MASTER_ADDR: a misplaced rank 0, or a second node given
  // node rank 0. It joins as a client, so that a rank 0 already serving there names both hosts.
  bool misplaced = false;
  try {
    if (o.isServer) o.masterListenFd = listen_on(opt.host, opt.port);
    if (o.isServer && o.masterListenFd < 0) {
      o.isServer = false;
      misplaced = true;
    }
    store = c10::make_intrusive<c10d::TCPStore>(opt.host, o);
  } catch (const std::exception& e) {
    if (misplaced)
      throw UsageError(fmt::format(
          "this process is rank 0, which serves the store at {}:{}, but {} is not an address of this host ({}) and no "
          "other rank 0 serves there: start node rank 0 on {}, or set MASTER_ADDR to this host",
          opt.host, opt.port, opt.host, short_hostname(), opt.host));
    throw RuntimeFailure(fmt::format("cannot {} the TCP store at {}:{} within --comm-timeout: {}",
                                     o.isServer ? "serve" : "reach", opt.host, opt.port, first_line(e)));
  }
  auto auth = std::make_shared<const StoreAuth>(opt.token);
  const std::string where = fmt::format("{}:{}", opt.host, opt.port);
  greet(*store, *auth, opt.rank, opt.size, o.isServer, opt.timeout_s, where);
  auto plane = std::make_unique<StorePlane>(store, auth, where, "world", opt.rank, opt.size);
  plane->barrier();  // everyone is here
  plane->own_store(o.isServer, std::min(opt.timeout_s, 30.0));
  return plane;
}

}  // namespace dtbench
