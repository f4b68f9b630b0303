// Launch discovery against the variable sets that real launchers set.
#include <catch2/catch.hpp>

#include "core/comm/launch_env.h"
#include "core/report/errors.h"

using namespace dtbench;

namespace {
LaunchInfo discover(const EnvMap& env, const LaunchFlags& flags = {}, const LaunchContext& ctx = {}) {
  return discover_launch(env, flags, ctx);
}
std::string usage_error(const EnvMap& env, const LaunchFlags& flags = {}) {
  try {
    discover_launch(env, flags, {});
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("no launcher: one process") {
  auto l = discover({{"HOME", "/root"}});
  CHECK(l.source == "single");
  CHECK(l.rank == 0);
  CHECK(l.world_size == 1);
}

TEST_CASE("flags win over the environment") {
  LaunchFlags f;
  f.rank = 1;
  f.world_size = 2;
  f.master_addr = "127.0.0.1";
  f.master_port = 31000;
  auto l = discover({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}}, f);
  CHECK(l.source == "flags");
  CHECK(l.rank == 1);
  CHECK(l.local_rank == 1);
  CHECK(l.master_port == 31000);
  LaunchFlags half;
  half.rank = 0;
  CHECK_THAT(usage_error({}, half), Catch::Contains("--world-size"));
}

TEST_CASE("torchrun, with and without its agent store") {
  EnvMap env{{"RANK", "5"},
             {"WORLD_SIZE", "16"},
             {"LOCAL_RANK", "5"},
             {"LOCAL_WORLD_SIZE", "8"},
             {"MASTER_ADDR", "10.1.2.3"},
             {"MASTER_PORT", "29400"},
             {"TORCHELASTIC_RUN_ID", "abc"},
             {"GROUP_RANK", "0"}};
  auto l = discover(env);
  CHECK(l.source == "torchrun");
  CHECK(l.rank == 5);
  CHECK(l.local_world_size == 8);
  CHECK(l.node_rank == 0);
  CHECK(l.nodes == 2);
  CHECK(l.master_addr == "10.1.2.3");
  CHECK_FALSE(l.agent_store);
  env["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  CHECK(discover(env).agent_store);
}

TEST_CASE("dtbench-launch's children inside a Slurm step with one task per node") {
  // Node 1 of 2, 4 ranks per node: the step's SLURM_PROCID counts launchers, not ranks.
  EnvMap env{{"RANK", "6"},
             {"WORLD_SIZE", "8"},
             {"LOCAL_RANK", "2"},
             {"LOCAL_WORLD_SIZE", "4"},
             {"MASTER_ADDR", "node-a"},
             {"MASTER_PORT", "29400"},
             {"DTBENCH_LAUNCHER", "dtbench-launch"},
             {"SLURM_STEP_ID", "0"},
             {"SLURM_PROCID", "1"},
             {"SLURM_LOCALID", "0"},
             {"SLURM_NODEID", "1"},
             {"SLURM_STEP_NUM_TASKS", "2"},
             {"SLURM_STEP_NUM_NODES", "2"},
             {"SLURM_STEP_TASKS_PER_NODE", "1(x2)"},
             {"SLURM_STEP_NODELIST", "node-[a-b]"},
             {"SLURM_JOB_ID", "77"}};
  auto l = discover(env);
  CHECK(l.source == "dtbench-launch");
  CHECK(l.rank == 6);
  CHECK(l.node_rank == 1);
  CHECK(l.nodes == 2);
  CHECK(l.job_id == "77");
  env["SLURM_NODEID"] = "0";  // a launcher that computed the wrong node rank
  CHECK_THAT(usage_error(env), Catch::Contains("dtbench-launch") && Catch::Contains("slurm"));
}

TEST_CASE("OpenMPI under mpirun") {
  auto l = discover({{"OMPI_COMM_WORLD_RANK", "3"},
                     {"OMPI_COMM_WORLD_SIZE", "4"},
                     {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                     {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                     {"PMIX_RANK", "3"}});
  CHECK(l.source == "openmpi");
  CHECK(l.rank == 3);
  CHECK(l.local_rank == 1);
  CHECK(l.node_rank == 1);
}

TEST_CASE("mpirun inside a Slurm allocation: the ranks inherit the daemon step's SLURM_PROCID") {
  auto l = discover({{"OMPI_COMM_WORLD_RANK", "9"},
                     {"OMPI_COMM_WORLD_SIZE", "16"},
                     {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                     {"OMPI_COMM_WORLD_LOCAL_SIZE", "8"},
                     {"SLURM_STEP_ID", "0"},
                     {"SLURM_PROCID", "1"},
                     {"SLURM_STEP_NUM_TASKS", "2"},
                     {"SLURM_JOB_ID", "777"}});
  CHECK(l.source == "openmpi");
  CHECK(l.rank == 9);
  CHECK(l.job_id == "777");
}

TEST_CASE("Slurm step: srun --mpi=pmix") {
  EnvMap env{{"SLURM_STEP_ID", "0"},
             {"SLURM_PROCID", "10"},
             {"SLURM_STEP_NUM_TASKS", "16"},
             {"SLURM_LOCALID", "2"},
             {"SLURM_NODEID", "1"},
             {"SLURM_STEP_TASKS_PER_NODE", "8(x2)"},
             {"SLURM_STEP_NODELIST", "p5-dy-gpu-[3-4]"},
             {"SLURM_JOB_ID", "123456"},
             {"SLURM_NNODES", "2"},
             {"PMIX_RANK", "10"}};
  auto l = discover(env);
  CHECK(l.source == "slurm");
  CHECK(l.rank == 10);
  CHECK(l.local_rank == 2);
  CHECK(l.local_world_size == 8);
  CHECK(l.master_addr == "p5-dy-gpu-3");
  CHECK(l.master_port == 20000 + 123456 % 20000);
  CHECK(l.job_id == "123456");
}

TEST_CASE("the batch script itself is not rank 0 of a step") {
  auto l = discover({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "16"}, {"SLURM_JOB_ID", "5"}});
  CHECK(l.source == "single");
}

TEST_CASE("Slurm hostlists and tasks per node") {
  CHECK(slurm_first_host("node01") == "node01");
  CHECK(slurm_first_host("gpu-[003-005,9],cpu1") == "gpu-003");
  CHECK(slurm_first_host("a[7,9]b,c") == "a7b");
  CHECK(slurm_tasks_on_node("8(x2),4", 0) == 8);
  CHECK(slurm_tasks_on_node("8(x2),4", 1) == 8);
  CHECK(slurm_tasks_on_node("8(x2),4", 2) == 4);
}

TEST_CASE("torchrun started by srun, one task per node") {
  EnvMap env{{"RANK", "9"},
             {"WORLD_SIZE", "16"},
             {"LOCAL_RANK", "1"},
             {"LOCAL_WORLD_SIZE", "8"},
             {"MASTER_ADDR", "h0"},
             {"MASTER_PORT", "29500"},
             {"SLURM_STEP_ID", "0"},
             {"SLURM_PROCID", "1"},
             {"SLURM_STEP_NUM_TASKS", "2"},
             {"SLURM_NODEID", "1"},
             {"SLURM_STEP_NUM_NODES", "2"}};
  auto l = discover(env);
  CHECK(l.source == "torchrun");
  CHECK(l.node_rank == 1);
  env["SLURM_NODEID"] = "0";  // the wrong node: a contradiction, named
  CHECK_THAT(usage_error(env), Catch::Contains("torchrun") && Catch::Contains("slurm"));
}

TEST_CASE("contradictions name both sources") {
  // Same processes counted, different rank.
  CHECK_THAT(usage_error({{"RANK", "1"},
                          {"WORLD_SIZE", "2"},
                          {"LOCAL_RANK", "1"},
                          {"MASTER_ADDR", "h"},
                          {"MASTER_PORT", "29500"},
                          {"OMPI_COMM_WORLD_RANK", "0"},
                          {"OMPI_COMM_WORLD_SIZE", "2"}}),
             Catch::Contains("torchrun") && Catch::Contains("openmpi"));
  LaunchFlags f;
  f.rank = 0;
  f.world_size = 4;
  const EnvMap store{{"MASTER_ADDR", "h"}, {"MASTER_PORT", "29500"}};
  EnvMap env = store;
  env.insert({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}});
  CHECK_THAT(usage_error(env, f), Catch::Contains("flags") && Catch::Contains("torchrun"));
  env = store;
  env.insert({{"RANK", "3"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}});
  CHECK_THAT(usage_error(env), Catch::Contains("not below"));
  CHECK_THAT(usage_error({{"OMPI_COMM_WORLD_RANK", "x"}, {"OMPI_COMM_WORLD_SIZE", "2"}}),
             Catch::Contains("OMPI_COMM_WORLD_RANK"));
}

TEST_CASE("Kubeflow PyTorchJob: RANK is the pod index") {
  EnvMap env{{"PET_NNODES", "4"},
             {"PET_NPROC_PER_NODE", "8"},
             {"PET_MASTER_ADDR", "job-master-0"},
             {"PET_MASTER_PORT", "23456"},
             {"RANK", "2"},
             {"WORLD_SIZE", "4"},
             {"MASTER_ADDR", "job-master-0"},
             {"MASTER_PORT", "23456"}};
  auto l = discover(env);
  CHECK(l.source == "kubeflow");
  CHECK(l.node_level);
  CHECK(l.node_rank == 2);
  CHECK(l.nodes == 4);
  CHECK(l.local_world_size == 8);
  CHECK(l.world_size == 32);
  CHECK(l.rank == 16);
  CHECK(l.master_addr == "job-master-0");
  CHECK(l.master_port == 23456);
}

TEST_CASE("Kubeflow: auto processes per node, elastic ranges refused") {
  LaunchContext gpus;
  gpus.visible_gpus = 8;
  EnvMap env{{"PET_NNODES", "2"}, {"PET_NODE_RANK", "1"}, {"PET_NPROC_PER_NODE", "auto"}, {"PET_MASTER_ADDR", "m"}};
  CHECK(discover(env, {}, gpus).local_world_size == 8);
  CHECK(discover(env).local_world_size == 1);  // CPU
  env["PET_NNODES"] = "1:4";
  CHECK_THAT(usage_error(env), Catch::Contains("elastic"));
}

TEST_CASE("a process started by our launcher inside a PyTorchJob pod is checked against PET_*") {
  EnvMap env{{"PET_NNODES", "2"},  {"PET_NODE_RANK", "1"},  {"PET_NPROC_PER_NODE", "2"}, {"PET_MASTER_ADDR", "m"},
             {"RANK", "3"},        {"WORLD_SIZE", "4"},     {"LOCAL_RANK", "1"},         {"LOCAL_WORLD_SIZE", "2"},
             {"MASTER_ADDR", "m"}, {"MASTER_PORT", "29500"}};
  CHECK(discover(env).source == "torchrun");
  env["RANK"] = "1";  // node 0 by the launcher, node 1 by the operator
  CHECK_THAT(usage_error(env), Catch::Contains("kubeflow"));
}

TEST_CASE("Kubernetes Indexed Job") {
  auto l = discover({{"JOB_COMPLETION_INDEX", "3"},
                     {"NNODES", "4"},
                     {"NPROC_PER_NODE", "1"},
                     {"MASTER_ADDR", "train-0.train"},
                     {"MASTER_PORT", "29500"}});
  CHECK(l.source == "indexed-job");
  CHECK(l.rank == 3);
  CHECK(l.world_size == 4);
  CHECK(l.master_addr == "train-0.train");
  CHECK_THAT(usage_error({{"JOB_COMPLETION_INDEX", "0"}, {"MASTER_ADDR", "x"}}), Catch::Contains("NNODES"));
}

TEST_CASE("AWS Batch multi-node parallel job") {
  EnvMap env{{"AWS_BATCH_JOB_NODE_INDEX", "1"},
             {"AWS_BATCH_JOB_NUM_NODES", "3"},
             {"AWS_BATCH_JOB_MAIN_NODE_INDEX", "2"},
             {"AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS", "10.0.0.5"},
             {"AWS_BATCH_JOB_ID", "j#1"}};
  auto l = discover(env);
  CHECK(l.source == "aws-batch");
  CHECK(l.node_rank == 2);  // (1 - 2) mod 3
  CHECK(l.master_addr == "10.0.0.5");
  // The main node has no main-node address: its own address is the master.
  EnvMap main{
      {"AWS_BATCH_JOB_NODE_INDEX", "2"}, {"AWS_BATCH_JOB_NUM_NODES", "3"}, {"AWS_BATCH_JOB_MAIN_NODE_INDEX", "2"}};
  LaunchContext ctx;
  ctx.own_address = "10.0.0.5";
  auto m = discover(main, {}, ctx);
  CHECK(m.node_rank == 0);
  CHECK(m.master_addr == "10.0.0.5");
  CHECK_THAT(usage_error(main), Catch::Contains("MASTER_ADDR"));
  main["MASTER_ADDR"] = "10.0.0.9";  // set by the user: it wins
  CHECK(discover(main, {}, ctx).master_addr == "10.0.0.9");
  // This host's own address, as dtbench-launch finds it: an IPv4 address, never loopback.
  const std::string own = own_ipv4_address();
  CHECK((own.empty() || (own.find('.') != std::string::npos && own.rfind("127.", 0) != 0)));
}

TEST_CASE("node-level sources must agree with each other") {
  CHECK_THAT(usage_error({{"PET_NNODES", "2"},
                          {"PET_NODE_RANK", "1"},
                          {"PET_MASTER_ADDR", "m"},
                          {"JOB_COMPLETION_INDEX", "0"},
                          {"NNODES", "2"},
                          {"MASTER_ADDR", "m"}}),
             Catch::Contains("kubeflow") && Catch::Contains("indexed-job"));
}

TEST_CASE("a partial launch set is refused, naming what is missing") {
  // RANK or WORLD_SIZE alone would otherwise train as one process.
  CHECK_THAT(usage_error({{"RANK", "5"}, {"WORLD_SIZE", "4"}}), Catch::Contains("LOCAL_RANK"));
  CHECK_THAT(usage_error({{"WORLD_SIZE", "4"}}), Catch::Contains("RANK, LOCAL_RANK"));
  CHECK_THAT(usage_error({{"LOCAL_RANK", "0"}}), Catch::Contains("RANK, WORLD_SIZE"));
  // A complete process set without the rendezvous.
  CHECK_THAT(usage_error({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}}), Catch::Contains("MASTER_ADDR"));
  CHECK_THAT(usage_error({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "h"}}),
             Catch::Contains("no MASTER_PORT"));
  // rank >= world, negative flags, ports out of range, zero counts: exit 2, named.
  CHECK_THAT(usage_error(
                 {{"RANK", "5"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}),
             Catch::Contains("not below"));
  LaunchFlags f;
  f.rank = -1;
  f.world_size = 2;
  CHECK_THAT(usage_error({}, f), Catch::Contains("negative"));
  f.rank = 0;
  f.master_port = 70000;
  CHECK_THAT(usage_error({}, f), Catch::Contains("1 to 65535"));
  CHECK_THAT(
      usage_error(
          {{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}),
      Catch::Contains("MASTER_PORT '70000'"));
  CHECK_THAT(usage_error({{"AWS_BATCH_JOB_NODE_INDEX", "0"}, {"AWS_BATCH_JOB_NUM_NODES", "0"}}),
             Catch::Contains("AWS_BATCH_JOB_NUM_NODES '0'"));
  CHECK_THAT(usage_error({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2x"}}),
             Catch::Contains("OMPI_COMM_WORLD_SIZE '2x'"));
  CHECK_THAT(usage_error({{"SLURM_STEP_ID", "0"},
                          {"SLURM_PROCID", "0"},
                          {"SLURM_STEP_NUM_TASKS", "2"},
                          {"SLURM_STEP_TASKS_PER_NODE", "2(x1"}}),
             Catch::Contains("Slurm's format"));
  // The pods of a PyTorchJob and an Indexed Job keep their own RANK/WORLD_SIZE.
  CHECK(discover(
            {{"PET_NNODES", "2"}, {"PET_NODE_RANK", "1"}, {"PET_MASTER_ADDR", "m"}, {"RANK", "1"}, {"WORLD_SIZE", "2"}})
            .source == "kubeflow");
  CHECK(discover({{"JOB_COMPLETION_INDEX", "1"}, {"NNODES", "2"}, {"MASTER_ADDR", "m"}, {"RANK", "1"}}).source ==
        "indexed-job");
}
