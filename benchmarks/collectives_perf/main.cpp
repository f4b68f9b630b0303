// collectives_perf: nccl-tests' all_reduce_perf, all_gather_perf, ... in one executable,
// on dtbench's Communicator (mpi on CPU, nccl on GPU).
#include <ATen/Context.h>
#include <fmt/format.h>

#include <cstdio>

#include "benchmarks/collectives_perf/args.h"
#include "benchmarks/collectives_perf/engine.h"
#include "core/app/failed_run_record.h"
#include "core/app/cli.h"
#include "core/app/main_guard.h"
#include "core/app/network_proof.h"
#include "core/app/run_record.h"
#include "core/report/clock.h"
#include "core/report/errors.h"
#include "core/report/result.h"
#include "core/report/system_info.h"
#include "core/train/cuda_device.h"

using namespace dtbench;

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
