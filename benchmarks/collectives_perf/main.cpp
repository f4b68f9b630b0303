// collectives_perf: nccl-tests' all_reduce_perf, all_gather_perf, ... in one executable,
// on dtbench's Communicator (mpi on CPU, nccl on GPU).
#include <ATen/Context.h>
#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "benchmarks/collectives_perf/args.h"
#include "benchmarks/collectives_perf/engine.h"
#include "benchmarks/collectives_perf/nccl_json.h"
#include "core/app/failed_run_record.h"
#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/app/network_proof.h"
#include "core/app/run_record.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/files.h"
#include "core/report/result.h"
#include "core/report/system_info.h"
#include "core/train/cuda_device.h"

using namespace dtbench;

namespace {

// What -J's file says about the run besides its rows; collective (every rank's device).
collperf::NcclJsonRun nccl_json_run(World& world, int argc, char** argv, const std::string& start_time) {
  collperf::NcclJsonRun run;
  run.start_time = start_time;
  run.args.assign(argv, argv + argc);
  // nccl-tests lists the whole environment; ours lists what the result record names, with
  // its allowlist's values only (a job token or a password never reaches a shared file).
  const nlohmann::json env = fabric_environment();
  for (auto it = env.begin(); it != env.end(); ++it) run.env.push_back(it.key() + "=" + it.value().get<std::string>());
  const nlohmann::json& info = system_info();
  if (info.contains("nccl")) {
    int major = 0, minor = 0, patch = 0;
    std::sscanf(info["nccl"].value("version", "").c_str(), "%d.%d.%d", &major, &minor, &patch);
    run.nccl_version = major * 10000 + minor * 100 + patch;
  }
  const bool gpu = world.device_index >= 0;
  const nlohmann::json mine = {
      {"pid", static_cast<int>(::getpid())},
      {"host", short_hostname()},
      {"device", world.device_index},
      {"hex", gpu ? cuda_pci_id(world.device_index) : ""},
      {"info", gpu ? info["gpu"].value("name", "") : "cpu: " + info["cpu"].value("model", std::string("unknown"))}};
  int rank = 0;
  for (const std::string& s : world.comm->control().all_gather(mine.dump())) {
    const nlohmann::json d = nlohmann::json::parse(s);
    run.devices.push_back({rank++, d["pid"], d["device"], d["host"], d["hex"], d["info"]});
  }
  if (const char* min_bw = std::getenv("NCCL_TESTS_MIN_BW")) run.min_bw = std::atof(min_bw);
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("collectives_perf", [&] {
    cxxopts::Options options("collectives_perf",
                             "Collective bandwidth, checked, as nccl-tests measures it. Run one process per "
                             "device: mpirun -np N collectives_perf [flags]");
    add_common_flags(options);
    collperf::add_bench_flags(options);
    auto flags = parse_flags(options, argc, argv);
    CommonArgs common = read_common_flags(flags);
    collperf::BenchArgs bench = collperf::read_bench_flags(flags);
    if (bench.timeout_s > 0) {
      DT_USAGE(!flags.count("comm-timeout"), "-T {} and --comm-timeout {}: both set the per-op timeout; give one",
               bench.timeout_s, common.world.timeout_s);
      common.world.timeout_s = bench.timeout_s;
    }
    if (!bench.json_out.empty())
      if (const std::string why = check_writable_file(bench.json_out); !why.empty())
        throw UsageError(fmt::format("-J {}: {}; give a file in a folder you can write", bench.json_out, why));
    const std::string start_time = collperf::nccl_json_now();
    const EnvMap env = process_env();
    LaunchContext ctx;
    ctx.visible_gpus = static_cast<int>(at::getNumGPUs());
    LaunchInfo launch = discover_launch(env, common.launch, ctx);
    validate_world(launch, common.world, env);
    use_rank_device(launch, common.world);
    DT_USAGE(bench.root < launch.world_size, "-r {}: there is no rank {} among {}; use 0..{} or -1 for every rank",
             bench.root, bench.root, launch.world_size, launch.world_size - 1);
    const collperf::Collective& coll = *collperf::find_collective(bench.op);
    bench.profile = read_profile_flag(flags, collperf::row_count(coll, bench, launch.world_size), common.world.device);
    {
      // Buffers that cannot be allocated are refused now rather than killed later: on CPU every
      // local rank holds its buffers at once; on GPU each rank has its own device.
      const bool cpu = common.world.device == "cpu";
      const double need = collperf::peak_buffer_bytes(coll, bench, launch.world_size);
      const double have = cpu ? static_cast<double>(meminfo_kib("MemAvailable")) * 1024.0 / launch.local_world_size
                              : static_cast<double>(cuda_free_bytes(launch.local_rank));
      DT_USAGE(have <= 0 || need <= have, "-e {}: {} needs about {:.1f} GiB per rank; {}; give a smaller -e",
               bench.max_bytes, coll.name, need / (1 << 30),
               cpu ? fmt::format("{} local ranks have {:.1f} GiB each (MemAvailable)", launch.local_world_size,
                                 have / (1 << 30))
                   : fmt::format("GPU {} has {:.1f} GiB free", launch.local_rank, have / (1 << 30)));
    }
    apply_threads(common, launch);

    const Stopwatch clock;
    nlohmann::json record = new_result_record("collectives_perf");
    auto world = init_world(launch, common.world, env);
    fill_run_record(record, flags, common, *world);
    const int rank = world->comm->rank();
    FailedRunRecord on_failure(record, common.out, rank);
    if (rank == 0) {
      std::printf(
          "# dtbench collectives_perf: %s, %d ranks on %d node(s), backend %s (control plane %s), device %s, "
          "launch %s\n",
          coll.name, world->comm->size(), record["launch"]["nodes"].get<int>(), world->backend.c_str(),
          world->control_kind.c_str(), common.world.device.c_str(), launch.source.c_str());
      std::printf("# iters %d, warmup %d, agg %d, check %d, time: %s over ranks\n", bench.iters, bench.warmup,
                  bench.agg, bench.check,
                  bench.average == 0   ? "rank 0"
                  : bench.average == 1 ? "mean"
                  : bench.average == 2 ? "min"
                                       : "max");
      collperf::print_table_header();
    }
    NetworkProof proof(*world);
    collperf::EngineResult res = collperf::run_engine(*world->comm, coll, bench);
    proof.finish(record, *world);
    if (!bench.json_out.empty()) {
      collperf::NcclJsonRun run = nccl_json_run(*world, argc, argv, start_time);
      if (rank == 0) {
        run.end_time = collperf::nccl_json_now();
        const std::string path = collperf::write_nccl_json(bench.json_out, collperf::nccl_tests_json(run, bench, res));
        std::printf("# Writing JSON output to %s\n", path.c_str());
        std::fflush(stdout);
      }
    }
    const double avg_busbw = res.busbw_n ? res.busbw_sum / res.busbw_n : 0.0;
    if (rank == 0) {
      std::printf("# Out of bounds values : %lld %s\n", static_cast<long long>(res.wrong), res.wrong ? "FAILED" : "OK");
      std::printf("# Avg bus bandwidth    : %g \n#\n", avg_busbw);
      std::fflush(stdout);
    }
    record["rows"] = res.rows;
    record["metrics"] = {{"busbw_avg_gbps", avg_busbw}, {"wrong", res.wrong}};
    gather_per_rank(record, *world, "peak_mem_bytes", static_cast<double>(peak_rss_bytes()));
    std::string error;
    if (res.wrong > 0)
      error = fmt::format("{} wrong elements in {} results; see the #wrong columns", res.wrong, coll.name);
    on_failure.disarm();
    finish_run_record(record, common, *world, clock.elapsed_s(), error);
    if (!error.empty()) throw CorrectnessFailure(error);
    world.reset();  // MPI_Finalize on every rank
    return 0;
  });
}
