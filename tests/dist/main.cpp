// Multi-rank tests: run under mpirun (launch/mpirun-local N). Every rank runs every test
// in the same order; checks never stop a rank early (CHECK, not REQUIRE), so the ranks
// stay in step. The world is the real one: real MPI processes, the real backend.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "core/comm/world.h"
#include "core/report/errors.h"
#include "tests/dist/world_fixture.h"

namespace dtbench::test {
World* g_world = nullptr;
}

int main(int argc, char** argv) {
  using namespace dtbench;
  auto env = process_env();
  auto launch = discover_launch(env, {}, {});
  WorldOptions opt;
  opt.timeout_s = 120;
  // The sanitizer runs take the communication tests over each CPU backend (tests/sanitize/).
  if (auto it = env.find("DTBENCH_TEST_BACKEND"); it != env.end()) opt.backend = it->second;
  opt.run_dir = "/tmp";
  auto world = init_world(launch, opt, env);
  test::g_world = world.get();
  Catch::Session session;
  int rc = session.applyCommandLine(argc, argv);
  if (rc == 0) rc = session.run();
  // Every rank's verdict decides: one failing rank fails the test everywhere.
  int worst = 0;
  for (auto& s : world->comm->control().all_gather(std::to_string(rc))) worst = std::max(worst, std::stoi(s));
  test::g_world = nullptr;
  world.reset();
  return worst;
}
