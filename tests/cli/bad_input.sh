#!/usr/bin/env bash
# Bad input: exit 2 and one line naming the cause and the fix, before any communication.
source "$(dirname "$0")/../lib.sh"

bad() {  # bad DESCRIPTION WORD-IN-MESSAGE ARGS...: runs $BIN (collectives_perf by default)
  local what="$1" word="$2"
  shift 2
  expect_exit 2 "$what" -- "${BIN:-$COLLPERF}" "$@"
  local lines
  lines=$(wc -l <"$WORK/err")
  if [ "$lines" -ne 1 ]; then fail "$what: $lines lines on stderr, want 1"; sed 's/^/    /' "$WORK/err"; fi
  if ! grep -q -- "$word" "$WORK/err"; then fail "$what: message lacks '$word': $(cat "$WORK/err")"; fi
}

bad "zero size" "-b '0': out of range; want at least 1" -b 0 -e 8
bad "reversed sizes" "reversed" -b 1M -e 8
bad "unknown op" "unknown collective" --op allreduce
bad "unknown dtype" "unknown or unsupported datatype" -d uint32
bad "unknown reduction" "unknown reduction" -o xor
bad "-i with -f" "not both" -b 8 -e 64 -i 8 -f 2
bad "step factor below 2" "below 2" -b 8 -e 64 -f 1
bad "-i 0 without -f" "-i '0'" -b 8 -e 64 -i 0
bad "zero iterations" "at least one timed iteration" -n 0
bad "a backend not built or unknown" "unknown backend" --backend gloo
bad "an absent device" "no CUDA device" --device cuda
bad "nccl on cpu" "CUDA tensors" --backend nccl --device cpu
bad "mpi on cuda" "CPU tensors" --backend mpi --device cuda
bad "a root outside the world" "no rank 3" --op broadcast -r 3
bad "an unknown flag" "see --help" --no-such-flag
bad "a stray argument" "unexpected argument" all_reduce
bad "-I 2" "use 1 to time each iteration or 0" -I 2
bad "-K without -I 1" "needs -I 1" -n 5 -K 2
bad "-K as large as -n" "0 <= K < -n (5)" -n 5 -I 1 -K 5
bad "-J without .json" "must end in .json" -J "$WORK/out.txt"
bad "-J in a folder that cannot be made" "-J /proc/x/y.json" -J /proc/x/y.json
bad "-T and --comm-timeout" "give one" -T 5 --comm-timeout 10
bad "negative -T" "-T -1: give the seconds" --timeout=-1
bad "half a launch" "--world-size" --rank 1
bad "bad --tag" "key=value" --tag novalue
bad "mpi backend without mpirun" "mpirun" --backend mpi --rank 0 --world-size 2 --master-port 1
bad "--profile-steps on CPU" "needs --device cuda" -b 8 -e 64 --profile-steps 1-2
for b in fsdp_llama megatron_gpt ddp_train; do
  BIN="$DTBENCH_BIN/benchmarks/$b" bad "$b --profile-steps on CPU" "needs --device cuda" --profile-steps 2-3
done
# The range itself, read before the device is touched (so --device cuda is fine here).
BIN="$DTBENCH_BIN/benchmarks/fsdp_llama" bad "--profile-steps past the run" "the run has 3 steps" --steps 3 \
  --device cuda --profile-steps 2-5
BIN="$DTBENCH_BIN/benchmarks/fsdp_llama" bad "--profile-steps reversed" "want 1 <= A <= B" --device cuda --profile-steps 3-2
BIN="$DTBENCH_BIN/benchmarks/fsdp_llama" bad "--profile-steps 0" "want 1 <= A <= B" --device cuda --profile-steps 0
BIN="$DTBENCH_BIN/benchmarks/fsdp_llama" bad "--profile-steps text" "want A-B" --device cuda --profile-steps 2-x

# Numbers (core/report/numbers): the whole text, finite, in range, products checked; the flag
# or variable named. Each class with several inputs and several programs.
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
MEGATRON="$DTBENCH_BIN/benchmarks/megatron_gpt"
LAUNCH="$DTBENCH_BIN/launch/dtbench-launch"
BIN="$FSDP"
bad "a decimal comma" "--lr '1,5e-4': not a finite number" --lr 1,5e-4
bad "nan" "--lr 'nan'" --lr nan
bad "inf" "--min-lr 'inf'" --min-lr=inf
bad "trailing text" "--steps '12abc'" --steps 12abc
bad "an int past int64" "too large" --seed 99999999999999999999
bad "a negative seed" "--seed '-1'" --seed=-1
bad "a timeout past 10^6 s" "--comm-timeout" --comm-timeout 1e20
bad "100000 threads" "4 x the" --threads 100000
bad "hidden 2^32" "--hidden 4294967296" --hidden 4294967296 --dry-run
bad "micro-batch x dp past 2^40" "micro-batch x data-parallel" --micro-batch 4611686018427387904 --dry-run
bad "a negative rank" "negative" --rank=-1 --world-size 2
bad "port 70000" "1 to 65535" --master-port 70000 --rank 0 --world-size 2
BIN="$MEGATRON"
bad "tp x pp past the world" "--tp x --pp" --tp 4294967296 --pp 4294967296 --dry-run
bad "a comma in --lr (megatron)" "--lr" --lr 3,0e-4
BIN="$COLLPERF"
bad "a size past int64" "-e '18014398509481985K': too large" -b 8 -e 18014398509481985K
bad "a fractional size" "not a size" -b 1.5K -e 8K
bad "iterations with a suffix" "-n '5x'" -n 5x
bad "buffers past the memory" "MemAvailable" -b 8 -e 64G
bad "buffers past the memory (all_gather)" "MemAvailable" --op all_gather -b 8 -e 4T
BIN="$LAUNCH"
bad "launcher: --grace abc" "--grace 'abc'" --grace abc -- true
bad "launcher: 2^30 ranks per node" "--nproc-per-node '1073741823'" --nproc-per-node 1073741823 -- true
bad "launcher: 2^21 nodes" "--nnodes '2097152'" --nnodes 2097152 --node-rank 0 -- true
unset BIN
# The launch environment: partial sets, bad values, zero counts.
envbad() {  # envbad DESCRIPTION WORD VAR=VALUE...: fsdp_llama --dry-run under that environment
  local what="$1" word="$2"
  shift 2
  BIN="env" bad "$what" "$word" -i PATH="$PATH" "$@" "$FSDP" --dry-run
}
envbad "RANK and WORLD_SIZE without LOCAL_RANK" "without LOCAL_RANK" RANK=5 WORLD_SIZE=4
envbad "WORLD_SIZE alone" "RANK, LOCAL_RANK" WORLD_SIZE=4
envbad "a torchrun set without MASTER_ADDR" "no MASTER_ADDR" RANK=1 WORLD_SIZE=4 LOCAL_RANK=1
envbad "rank not below world" "not below" RANK=5 WORLD_SIZE=4 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500
envbad "MASTER_PORT=70000" "MASTER_PORT '70000'" RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=70000
envbad "OMPI size with trailing text" "OMPI_COMM_WORLD_SIZE '2x'" OMPI_COMM_WORLD_RANK=0 OMPI_COMM_WORLD_SIZE=2x
BIN="env" bad "AWS Batch with 0 nodes" "AWS_BATCH_JOB_NUM_NODES '0'" -i PATH="$PATH" AWS_BATCH_JOB_NODE_INDEX=0 \
  AWS_BATCH_JOB_NUM_NODES=0 "$LAUNCH" -- true
# --out that cannot be written is found before the first step.
BIN="$FSDP"
bad "--out under a file" "cannot create its folder" --steps 1 --out /etc/hostname/r.json
bad "--out in /proc" "cannot create a file" --steps 1 --out /proc/r.json
bad "--out a folder" "a folder, not a file" --steps 1 --out "$WORK"
unset BIN

# slurm/common.sh: a hostile SLURM_JOB_ID is refused before any use (it once reached $(( )),
# where an array subscript runs a command); a job name cannot lead the run folder elsewhere.
for id in "a[\$(touch $WORK/pwned)]" '1;touch x' '12 34' '-1' '0x10' '1234567890123'; do
  expect_exit 2 "slurm/common.sh refuses SLURM_JOB_ID='$id'" -- env SLURM_JOB_ID="$id" DTBENCH_ROOT="$WORK" \
    bash -c 'source "$1"' _ "$DTBENCH_SRC/slurm/common.sh"
  grep -q "is not a job number" "$WORK/err" || fail "SLURM_JOB_ID='$id': $(cat "$WORK/err")"
done
[ ! -e "$WORK/pwned" ] && pass "no command ran from SLURM_JOB_ID" || fail "SLURM_JOB_ID ran a command"
run_dir=$(env SLURM_JOB_ID=42 SLURM_JOB_NAME='../../etc x' DTBENCH_ROOT="$WORK" \
  bash -c 'source "$1"; echo "$RUN_DIR"' _ "$DTBENCH_SRC/slurm/common.sh")
[ "$run_dir" = "$WORK/runs/.._.._etc_x-42" ] && pass "a job name stays inside runs/ ($run_dir)" || fail "RUN_DIR $run_dir"

# Under mpirun: every rank finds the error before MPI starts; the job exits 2.
expect_exit 2 "bad input under mpirun" -- "$MPIRUN_LOCAL" 2 "$COLLPERF" -b 0
grep -q "at least 1" "$WORK/err" || fail "under mpirun: no cause in stderr"

# --help is not an error.
expect_exit 0 "--help" -- "$COLLPERF" --help
grep -q -- "--stepfactor" "$WORK/out" || fail "--help lacks -f"
finish
