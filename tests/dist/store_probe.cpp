// A world held together by the TCP store alone (no MPI): what NCCL's bootstrap uses when
// there is no mpirun. Each rank exchanges through the store in a loop for --seconds, so
// the fault tests can stop or kill one and watch the others exit 3 within the timeout;
// --bytes makes ranks that disagree on a buffer size (tests/dist/store_security.sh).
//   RANK=r WORLD_SIZE=n LOCAL_RANK=r MASTER_ADDR=127.0.0.1 MASTER_PORT=p store_probe --comm-timeout 5
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/comm/control_plane.h"
#include "core/comm/watchdog.h"
#include "core/report/clock.h"
#include "core/report/log.h"

using namespace dtbench;

int main(int argc, char** argv) {
  return run_guarded("store_probe", [&] {
    cxxopts::Options options("store_probe", "TCP-store world for fault tests");
    add_common_flags(options);
    // clang-format off
    options.add_options()
        ("seconds", "how long to exchange", number<double>()->default_value("60"))
        ("bytes", "each rank sends this many bytes an exchange and expects as many from every rank (0: the round "
                  "number, any length)", number<int64_t>()->default_value("0"));
    // clang-format on
    auto flags = parse_flags(options, argc, argv);
    CommonArgs common = read_common_flags(flags);
    const EnvMap env = process_env();
    LaunchInfo launch = discover_launch(env, common.launch, {});
    Watchdog::instance().configure(common.world.timeout_s, common.run_dir, launch.rank);
    set_log_rank(launch.rank);
    auto plane = make_store_control_plane(store_options(launch, common.world.timeout_s, env));
    std::printf("rank %d: store world of %d ready\n", launch.rank, plane->size());
    std::fflush(stdout);
    const Stopwatch clock;
    uint64_t rounds = 0;
    while (clock.elapsed_s() < flags["seconds"].as<double>()) {
      const int64_t bytes = flags["bytes"].as<int64_t>();
      std::string mine = std::to_string(rounds++);
      if (bytes > 0) {
        mine.resize(static_cast<std::size_t>(bytes), '.');
        plane->all_gather_exact(mine, static_cast<std::size_t>(bytes));
      } else {
        plane->all_gather(mine);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    plane->barrier();
    std::printf("rank %d: %llu rounds\n", launch.rank, static_cast<unsigned long long>(rounds));
    return 0;
  });
}
