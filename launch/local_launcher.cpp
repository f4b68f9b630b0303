// dtbench-launch: the local half of torchrun. Starts N processes on this node, each with
// RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR and MASTER_PORT;
// prefixes every line they print with their rank; forwards SIGINT, SIGTERM and SIGUSR1; when one
// fails, stops the others (SIGTERM, then SIGKILL after --grace seconds) and exits with
// its code. For one task or pod per node: `srun --ntasks-per-node=1 dtbench-launch ...`,
// a Kubernetes Indexed Job, a Kubeflow PyTorchJob, AWS Batch multi-node.
//
//   dtbench-launch [--nproc-per-node N|auto] [--nnodes N --node-rank R] [--master-addr A]
//                  [--master-port P] [--grace S] [--no-prefix] [--] PROGRAM [ARGS...]
//
// The node's place comes from the flags, else from the environment as docs/ARCHITECTURE.md's launch
// discovery reads it (Kubeflow PET_*, Indexed Job, AWS Batch, or a Slurm step with one
// task per node), else this node alone. The ranks' job token (DTBENCH_JOB_TOKEN) is the
// environment's, or on one node without one, made here.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <tuple>
#include <utility>

#include <string>
#include <vector>

#include "core/comm/launch_env.h"
#include "core/report/errors.h"
#include "core/report/numbers.h"

using namespace dtbench;

namespace {

constexpr const char* kUsage =
    "usage: dtbench-launch [--nproc-per-node N|auto] [--nnodes N --node-rank R] [--master-addr A]\n"
    "                      [--master-port P] [--grace S] [--no-prefix] [--] PROGRAM [ARGS...]\n"
    "Starts N ranks of PROGRAM on this node (auto: one per visible GPU, 1 without GPUs), with\n"
    "RANK LOCAL_RANK WORLD_SIZE LOCAL_WORLD_SIZE GROUP_RANK MASTER_ADDR MASTER_PORT set; the node's\n"
    "rank and count come from the flags, else from Kubeflow PET_*, an Indexed Job, AWS Batch or a\n"
    "Slurm step with one task per node, else this node alone. Output lines get a \"[R] \" prefix.\n"
    "On SIGINT/SIGTERM, or when a rank fails, the others get SIGTERM, then SIGKILL after --grace\n"
    "seconds (15); the exit code is the first failed rank's. SIGUSR1 is passed to every rank, which\n"
    "writes its comm trace and prints the desync report, and goes on.\n"
    "The ranks prove the job's DTBENCH_JOB_TOKEN (or DTBENCH_JOB_TOKEN_FILE) to the store; on one\n"
    "node without either, dtbench-launch makes one; several nodes must all be given the same one.\n"
    "NSYS=1|optional runs every rank under Nsight Systems through nsys-wrap (see launch/nsys-wrap).\n";

int g_signal_pipe[2] = {-1, -1};

void on_signal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  (void)!::write(g_signal_pipe[1], &b, 1);
}

int visible_gpus() {
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) {
    const std::string s = v;
    if (s.empty() || s == "-1") return 0;
    int n = 1;
    for (char c : s) n += c == ',';
    return n;
  }
  int n = 0;
  if (DIR* d = ::opendir("/proc/driver/nvidia/gpus")) {
    while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

// The most ranks one node may start: no node has more cores or GPUs than this (a p5 has 8
// GPUs and 192 vCPUs). With at most 2^20 nodes the world size stays within 2^30, the most
// core/comm/launch_env reads back, so nnodes x nproc cannot overflow.
constexpr int kMaxRanksPerNode = 1024;
constexpr int kMaxNodes = 1 << 20;

int parse_count(const std::string& flag, const std::string& v, int lo, int hi) {
  return static_cast<int>(parse_integer(flag, v, lo, hi));
}

struct Plan {
  int nproc = 0, nnodes = 1, node_rank = 0, master_port = 29500;
  std::string master_addr = "127.0.0.1", source = "this node alone";
  double grace_s = 15;
  bool prefix = true;
  std::vector<std::string> argv;
  std::string token;  // made here for this node's ranks; empty: theirs comes from the environment
};

// 32 random bytes as hex: a job token (core/comm/store_auth.h).
std::string random_token() {
  unsigned char b[32];
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  const bool ok = fd >= 0 && ::read(fd, b, sizeof(b)) == static_cast<ssize_t>(sizeof(b));
  if (fd >= 0) ::close(fd);
  if (!ok) throw RuntimeFailure(fmt::format("cannot read /dev/urandom for the job token: {}", std::strerror(errno)));
  std::string hex;
  for (unsigned char c : b) hex += fmt::format("{:02x}", c);
  return hex;
}

Plan read_plan(int argc, char** argv) {
  Plan p;
  std::string nproc;
  std::optional<int> nnodes, node_rank, port;
  std::optional<std::string> addr;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      DT_USAGE(i + 1 < argc, "{}: needs a value", a);
      return argv[++i];
    };
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (a.rfind("--", 0) != 0) break;
    if (a == "--nproc-per-node")
      nproc = value();
    else if (a == "--nnodes")
      nnodes = parse_count(a, value(), 1, kMaxNodes);
    else if (a == "--node-rank")
      node_rank = parse_count(a, value(), 0, kMaxNodes - 1);
    else if (a == "--master-addr")
      addr = value();
    else if (a == "--master-port")
      port = parse_count(a, value(), 1, 65535);
    else if (a == "--grace")
      p.grace_s = parse_real(a, value(), 0, 3600);
    else if (a == "--no-prefix")
      p.prefix = false;
    else
      throw UsageError(fmt::format("{}: unknown flag (see dtbench-launch --help)", a));
  }
  for (; i < argc; ++i) p.argv.push_back(argv[i]);
  DT_USAGE(!p.argv.empty(), "no program to launch: dtbench-launch [flags] -- PROGRAM [ARGS...]");
  DT_USAGE(nnodes.has_value() == node_rank.has_value(), "--nnodes and --node-rank go together");

  // This node's place as the environment tells it (a scheduler's node-level variables, or a
  // Slurm step, mpirun or PMI that started one task per node); flags must agree with it.
  const EnvMap env = process_env();
  LaunchContext ctx;
  ctx.visible_gpus = visible_gpus();
  ctx.own_address = own_ipv4_address();
  const LaunchInfo info = discover_launch(env, {}, ctx);
  std::optional<std::pair<int, int>> env_place;  // node rank, node count
  if (info.node_level) {
    env_place = {info.node_rank, info.nodes};
    if (nproc.empty() && !nnodes) nproc = std::to_string(info.local_world_size);
  } else if (info.source != "single") {
    // A Slurm step, mpirun or PMI that started one task on each node: the tasks are the nodes.
    DT_USAGE(info.local_world_size == 1,
             "{} started {} processes on this node; run dtbench-launch once per node (srun --ntasks-per-node=1, "
             "mpirun --npernode 1)",
             info.source, info.local_world_size);
    env_place = {info.rank, info.world_size};
  }
  if (nnodes) {
    DT_USAGE(!env_place || env_place->second == *nnodes,
             "--nnodes {} but {} says the job has {} nodes; drop --nnodes/--node-rank (the launcher reads them from "
             "{}) or ask the scheduler for {} nodes",
             *nnodes, info.source, env_place->second, info.source, *nnodes);
    DT_USAGE(!env_place || env_place->first == *node_rank,
             "--node-rank {} but {} says this is node {}; drop --nnodes/--node-rank (the launcher reads them from {})",
             *node_rank, info.source, env_place->first, info.source);
    p.nnodes = *nnodes;
    p.node_rank = *node_rank;
    p.source = "flags";
  } else {
    if (env_place) std::tie(p.node_rank, p.nnodes) = *env_place;
    p.source = info.source == "single" ? p.source : info.source;
    p.master_addr = info.master_addr;
    p.master_port = info.master_port;
    if (info.source == "single" && env.count("MASTER_PORT"))
      p.master_port = parse_count("MASTER_PORT", env.at("MASTER_PORT"), 1, 65535);
    if (info.source == "single" && env.count("MASTER_ADDR")) p.master_addr = env.at("MASTER_ADDR");
  }
  if (addr) p.master_addr = *addr;
  if (port) p.master_port = *port;
  if (nproc.empty()) nproc = std::getenv("NPROC_PER_NODE") ? std::getenv("NPROC_PER_NODE") : "auto";
  p.nproc = nproc == "auto" ? std::max(1, visible_gpus()) : parse_count("--nproc-per-node", nproc, 1, kMaxRanksPerNode);
  DT_USAGE(p.node_rank < p.nnodes, "node rank {} is not below the node count {}", p.node_rank, p.nnodes);

  // The job's token (core/comm/store_auth.h): one node's launcher makes it for its ranks; the
  // launchers of several nodes must be given the same one, unless the rendezvous is loopback.
  if (!std::getenv("DTBENCH_JOB_TOKEN") && !std::getenv("DTBENCH_JOB_TOKEN_FILE")) {
    DT_USAGE(p.nnodes == 1 || is_loopback_host(p.master_addr),
             "{} nodes and no DTBENCH_JOB_TOKEN: the ranks of every node must prove the same job token to the "
             "store at {}; export one DTBENCH_JOB_TOKEN (e.g. $(od -An -N32 -tx1 /dev/urandom | tr -d ' \\n')) "
             "to every node's dtbench-launch (slurm/*.sbatch does)",
             p.nnodes, p.master_addr);
    if (p.nnodes == 1) p.token = random_token();
  }
  return p;
}

struct Child {
  pid_t pid = -1;
  int rank = 0;
  int fd[2] = {-1, -1};    // stdout, stderr pipes (read ends)
  std::string partial[2];  // an unfinished line of each
  bool running = true;
};

pid_t start_child(const Plan& p, int local_rank, int out_fd, int err_fd) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the launcher gone (even SIGKILL): stop
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  const int rank = p.node_rank * p.nproc + local_rank;
  auto set = [](const char* k, const std::string& v) { ::setenv(k, v.c_str(), 1); };
  set("RANK", std::to_string(rank));
  set("LOCAL_RANK", std::to_string(local_rank));
  set("WORLD_SIZE", std::to_string(p.nnodes * p.nproc));
  set("LOCAL_WORLD_SIZE", std::to_string(p.nproc));
  set("GROUP_RANK", std::to_string(p.node_rank));
  set("MASTER_ADDR", p.master_addr);
  set("MASTER_PORT", std::to_string(p.master_port));
  set("DTBENCH_LAUNCHER", "dtbench-launch");
  if (!p.token.empty()) set("DTBENCH_JOB_TOKEN", p.token);
  std::vector<char*> args;
  for (const auto& a : p.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  std::fprintf(stderr, "dtbench-launch: cannot run %s: %s\n", args[0], std::strerror(errno));
  ::_exit(127);
}

// Writes the complete lines in `buf` (and all of it at EOF) with the rank's prefix.
void emit(Child& c, int stream, const char* data, std::size_t n, bool eof, bool prefix) {
  std::string& buf = c.partial[stream];
  buf.append(data, n);
  FILE* to = stream == 0 ? stdout : stderr;
  std::size_t start = 0, nl;
  while ((nl = buf.find('\n', start)) != std::string::npos || (eof && start < buf.size())) {
    const std::size_t end = nl == std::string::npos ? buf.size() : nl;
    if (prefix) std::fprintf(to, "[%d] ", c.rank);
    std::fwrite(buf.data() + start, 1, end - start, to);
    std::fputc('\n', to);
    start = end + 1;
  }
  buf.erase(0, std::min(start, buf.size()));
  std::fflush(to);
}

int code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

int run(const Plan& p) {
  if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) throw RuntimeFailure("dtbench-launch: pipe failed");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGUSR1}) ::sigaction(s, &sa, nullptr);

  std::fprintf(stderr, "[dtbench-launch] node %d of %d (%s): ranks %d-%d of %d, master %s:%d\n", p.node_rank, p.nnodes,
               p.source.c_str(), p.node_rank * p.nproc, p.node_rank * p.nproc + p.nproc - 1, p.nnodes * p.nproc,
               p.master_addr.c_str(), p.master_port);
  std::vector<Child> kids(static_cast<std::size_t>(p.nproc));
  for (int l = 0; l < p.nproc; ++l) {
    Child& c = kids[static_cast<std::size_t>(l)];
    c.rank = p.node_rank * p.nproc + l;
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
      throw RuntimeFailure("dtbench-launch: pipe failed");
    c.pid = start_child(p, l, out[1], err[1]);
    ::close(out[1]);
    ::close(err[1]);
    c.fd[0] = out[0];
    c.fd[1] = err[0];
  }

  int exit_code = 0, signal_code = 0, running = p.nproc;
  bool stopping = false, killed = false;
  auto deadline = std::chrono::steady_clock::time_point::max();
  auto stop_all = [&](int sig) {
    for (auto& c : kids)
      if (c.running) ::kill(c.pid, sig);
    if (!stopping)
      deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                        std::chrono::duration<double>(p.grace_s));
    stopping = true;
  };
  for (;;) {
    std::vector<pollfd> fds{{g_signal_pipe[0], POLLIN, 0}};
    std::vector<std::pair<Child*, int>> owner{{nullptr, 0}};
    for (auto& c : kids)
      for (int s = 0; s < 2; ++s)
        if (c.fd[s] >= 0) {
          fds.push_back({c.fd[s], POLLIN, 0});
          owner.emplace_back(&c, s);
        }
    if (running == 0 && fds.size() == 1) break;
    ::poll(fds.data(), fds.size(), 100);
    for (std::size_t k = 1; k < fds.size(); ++k) {
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto [c, s] = owner[k];
      char buf[65536];
      const ssize_t n = ::read(fds[k].fd, buf, sizeof buf);
      if (n > 0) {
        emit(*c, s, buf, static_cast<std::size_t>(n), false, p.prefix);
      } else if (n == 0 || errno != EINTR) {
        emit(*c, s, buf, 0, true, p.prefix);
        ::close(c->fd[s]);
        c->fd[s] = -1;
      }
    }
    if (fds[0].revents & POLLIN) {
      unsigned char sig;
      while (::read(g_signal_pipe[0], &sig, 1) == 1) {
        if (sig == SIGINT || sig == SIGTERM) {
          std::fprintf(stderr, "[dtbench-launch] %s: stopping ranks %d-%d\n", strsignal(sig), kids.front().rank,
                       kids.back().rank);
          if (signal_code == 0) signal_code = 128 + sig;
          stop_all(sig);
        } else if (sig == SIGUSR1) {  // a request for the ranks' comm traces; the run goes on
          std::fprintf(stderr, "[dtbench-launch] SIGUSR1: asking ranks %d-%d for their comm traces\n",
                       kids.front().rank, kids.back().rank);
          for (auto& c : kids)
            if (c.running) ::kill(c.pid, SIGUSR1);
        }
      }
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (auto& c : kids) {
        if (c.pid != pid || !c.running) continue;
        c.running = false;
        --running;
        const int code = code_of(status);
        if (code != 0 && exit_code == 0) {
          exit_code = code;
          if (!stopping) {
            std::fprintf(stderr, "[dtbench-launch] rank %d exited with %d: stopping the others\n", c.rank, code);
            stop_all(SIGTERM);
          }
        }
      }
    }
    if (stopping && !killed && running > 0 && std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "[dtbench-launch] %d rank(s) still running after %.0f s: SIGKILL\n", running, p.grace_s);
      stop_all(SIGKILL);
      killed = true;
    }
  }
  // The first rank that failed speaks for the node; after a signal that all survived, 128 + signal.
  return exit_code != 0 ? exit_code : signal_code;
}

// NSYS set (launch/nsys-wrap says how): nsys-wrap, beside this executable, checks once that
// nsys is here (exit 2 before any rank starts, its one line said) and goes in front of every
// rank. Returns nsys-wrap's exit code from the check.
int wrap_for_nsys(Plan& p) {
  const char* mode = std::getenv("NSYS");
  if (!mode || !*mode || std::string(mode) == "0") return 0;
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  DT_CHECK(n > 0, "readlink /proc/self/exe: {}", std::strerror(errno));
  std::string wrap(self, static_cast<std::size_t>(n));
  wrap = wrap.substr(0, wrap.rfind('/')) + "/nsys-wrap";
  DT_USAGE(::access(wrap.c_str(), X_OK) == 0, "NSYS={}: {} is missing (the build copies launch/nsys-wrap there)", mode,
           wrap);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(wrap.c_str(), wrap.c_str(), "--check", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int rc = code_of(status);
  if (rc == 0) p.argv.insert(p.argv.begin(), wrap);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Plan plan = read_plan(argc, argv);
    if (const int rc = wrap_for_nsys(plan)) return rc;
    return run(plan);
  } catch (const Error& e) {
    std::fprintf(stderr, "dtbench-launch: error: %s\n", e.what());
    return static_cast<int>(e.code());
  }
}
