#!/usr/bin/env bash
# The slurm/ sbatch scripts on a real Slurm cluster (munge, slurmctld, slurmd on this
# machine, loopback only), with CPU overrides: fsdp_llama in both launch forms (srun
# --mpi=pmix, and a task per node running dtbench-launch), ddp_train, collectives, the
# nightly flow; each
# job must be COMPLETED and its record must show the loss going down (collectives: every
# element checked). A requeued job resumes from its checkpoint; bad settings fail the job
# with exit code 2. The cluster is shut down however the checks end.
source "$(dirname "$0")/../../lib.sh"
source "$(dirname "$0")/cluster.sh"
[ "$(id -u)" -eq 0 ] || { echo "skipped: the Slurm e2e test starts daemons as root"; exit 0; }
cluster="$WORK/cluster"
cleanup_hooks+=("slurm_cluster_stop '$cluster'")
slurm_cluster_start "$cluster" || { fail "Slurm cluster did not start"; finish; }
pass "Slurm cluster up: $(sinfo -h -o '%P %D %T')"

# MPI (srun --mpi=pmix) on loopback, as launch/mpirun-local does.
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo \
  OMPI_MCA_btl_vader_single_copy_mechanism=none
export DTBENCH_ROOT="$DTBENCH_SRC" DTBENCH_BIN DEVICE=cpu MASTER_ADDR=127.0.0.1 EXTRA_ARGS="--threads 1"
text_dataset "$WORK/text"

# submit NAME SCRIPT [VAR=VALUE...]: sbatch --wait on 1 node x 2 tasks; sets $job and $rc.
submit() {
  local name="$1" script="$2"
  shift 2
  rc=0
  job=$(env "$@" RUN_DIR="$WORK/runs/$name" sbatch --parsable --wait -N 1 --ntasks-per-node=2 -J "$name" \
    -o "$WORK/$name.out" "$DTBENCH_SRC/slurm/$script") || rc=$?
  job="${job%%;*}"
}
job_state() { scontrol show job "$1" -o 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
learned() {  # learned RECORD: the mean loss of the last 5 steps is below that of the first 5
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
l = [s["loss"] for s in r["steps"]]
a, b = sum(l[:5]) / 5, sum(l[-5:]) / 5
print(f"    loss {a:.3f} -> {b:.3f} over {len(l)} steps, {r['launch']['world_size']} ranks, launch {r['launch']['source']}")
assert r["status"] == "ok" and b < a - 0.2, (a, b)
PY
}
check_training() {  # check_training NAME
  local state
  state=$(job_state "$job")
  if [ "$rc" -eq 0 ] && [ "$state" = COMPLETED ] && learned "$WORK/runs/$1/result.json"; then pass "$1: job $job COMPLETED, loss down"
  else fail "$1: sbatch exit $rc, state ${state:-?}"; tail -5 "$WORK/$1.out" | sed 's/^/    /'; fi
}
train=(MODEL=tiny STEPS=20 SEQ=64 GLOBAL_BATCH=8 LR=3e-3 DATA="$WORK/text.bin")

submit fsdp_srun fsdp_llama.sbatch "${train[@]}"
check_training fsdp_srun
submit fsdp_launcher fsdp_llama.sbatch "${train[@]}" LAUNCH=launcher
check_training fsdp_launcher
if grep -q "^\[0\] Batch" "$WORK/fsdp_launcher.out"; then pass "launcher form: output prefixed by rank"
else fail "launcher form output: $(head -3 "$WORK/fsdp_launcher.out")"; fi
submit ddp_srun ddp_train.sbatch "${train[@]}"
check_training ddp_srun

submit coll collectives.sbatch OPS="all_reduce all_gather" MAX_BYTES=1M ITERS=5 WARMUP=1
records_ok() {
  python3 - "$WORK/runs/coll" <<'PY'
import json, sys
for op in ("all_reduce", "all_gather"):
    r = json.load(open(f"{sys.argv[1]}/{op}/result.json"))
    assert r["status"] == "ok" and r["launch"]["world_size"] == 2, r["status"]
PY
}
if [ "$rc" -eq 0 ] && records_ok; then pass "collectives: job $job COMPLETED, all_reduce and all_gather checked"
else fail "collectives: sbatch exit $rc, $(tail -3 "$WORK/coll.out")"; fi

# A requeued job continues from its checkpoint on shared storage.
submit ckpt1 fsdp_llama.sbatch "${train[@]}" STEPS=10 CKPT_DIR="$WORK/ckpt" CKPT_EVERY=5
submit ckpt2 fsdp_llama.sbatch "${train[@]}" STEPS=15 CKPT_DIR="$WORK/ckpt" CKPT_EVERY=5
if [ "$rc" -eq 0 ] && grep -q "resume: $WORK/ckpt/tiny-10steps, continuing after step 10" "$WORK/ckpt2.out"; then
  pass "second job resumed after step 10"
else fail "resume: exit $rc, $(grep -i 'resume\|error' "$WORK/ckpt2.out" | head -3)"; fi

# The nightly flow as a job: every benchmark ranked by srun, compared (no baselines yet:
# listed, not compared), appended to the history, reported.
submit nightly nightly.sbatch SYSTEM=cpu-e2e RESULTS="$WORK/results" REPETITIONS=1
if [ "$rc" -eq 0 ] && [ "$(job_state "$job")" = COMPLETED ] && [ -f "$WORK/runs/nightly/compare.md" ] &&
  [ "$(cat "$WORK/results/history/cpu-e2e/"*.jsonl | wc -l)" -eq 10 ] && [ -f "$WORK/runs/nightly/report/index.html" ]; then
  pass "nightly.sbatch: COMPLETED, 10 records in the history, compare table and report"
else fail "nightly.sbatch: exit $rc"; tail -5 "$WORK/nightly.out" | sed 's/^/    /'; fi

submit bad fsdp_llama.sbatch MODEL=no_such_model
state=$(job_state "$job")
if [ "$rc" -eq 2 ] && [ "$state" = FAILED ] && grep -q "no_such_model" "$WORK/bad.out"; then pass "bad model: job FAILED, exit 2, named"
else fail "bad model: exit $rc, state ${state:-?}"; fi
# NSYS=1 on a machine without nsys: the batch script stops before srun (no step runs), exit 2,
# one line naming the cause; NSYS=optional warns once and trains.
submit nsys_missing fsdp_llama.sbatch "${train[@]}" NSYS=1
state=$(job_state "$job")
if [ "$rc" -eq 2 ] && [ "$state" = FAILED ] && grep -q "NSYS=1 but nsys is not on PATH" "$WORK/nsys_missing.out" &&
  ! grep -q "srun --mpi=pmix\|Batch" "$WORK/nsys_missing.out"; then
  pass "NSYS=1 without nsys: job FAILED with exit 2 before any step, named"
else fail "NSYS=1 without nsys: exit $rc, state ${state:-?}, $(tail -2 "$WORK/nsys_missing.out")"; fi
submit nsys_optional fsdp_llama.sbatch "${train[@]}" NSYS=optional LAUNCH=launcher
check_training nsys_optional
grep -q "NSYS=optional and no nsys on PATH" "$WORK/nsys_optional.out" && pass "NSYS=optional: warned, ran unprofiled" \
  || fail "NSYS=optional: no warning"
finish
