#!/usr/bin/env bash
# Hang forensics (docs/ARCHITECTURE.md, "Diagnosis"): when a job hangs or is asked (SIGUSR1),
# every rank writes its comm trace and one desync report names the rank that is behind, the
# op and its sequence number; ranks that entered different ops stop at once (exit 4) naming
# both. 4 ranks of fsdp_llama (tiny) under dtbench-launch, and collectives_perf under mpirun.
source "$(dirname "$0")/../lib.sh"
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
LAUNCH="$DTBENCH_BIN/launch/dtbench-launch"
TRACE="$DTBENCH_BIN/tools/dtbench-trace"
timeout_s=5
limit=$((timeout_s + 30))
common=(--model tiny --seq 32 --global-batch 12 --threads 1 --comm-timeout "$timeout_s")

start_job() {  # start_job NAME STEPS [ENV=VALUE...]: 4 ranks in the background; sets job
  local name="$1" steps="$2"
  shift 2
  env "$@" "$LAUNCH" --nproc-per-node 4 --master-port "$(free_port)" --grace 2 -- "$FSDP" "${common[@]}" \
    --steps "$steps" --run-dir "$WORK/$name" --out "$WORK/$name/record.json" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  job=$!
  cleanup_hooks+=("kill -KILL $job 2>/dev/null; pkill -KILL -f '$FSDP' 2>/dev/null")
}

wait_steps() {  # wait_steps NAME N: until rank 0 printed N step lines
  local n
  for _ in $(seq 600); do
    n=$(grep -c '^\[0\] Batch' "$WORK/$1.out" 2>/dev/null || true)
    [ "${n:-0}" -ge "$2" ] && return 0
    sleep 0.1
  done
  fail "$1: no step line in 60 s"; sed 's/^/    /' "$WORK/$1.err" | tail -5
}

nothing_left() {  # nothing_left NAME
  if pgrep -f "$FSDP" >/dev/null; then fail "$1: ranks left running"; pkill -KILL -f "$FSDP"; else pass "$1: nothing left running"; fi
}

# expect_report NAME PATTERN: the report line matching PATTERN was printed, once.
expect_report() {
  local n
  n=$(grep -cE "desync report: .*$2" "$WORK/$1.err" || true)
  if [ "$n" -eq 1 ]; then pass "$1: $(grep -oE "desync report: .*$2" "$WORK/$1.err" | head -c 160)"
  else fail "$1: want one report line matching '$2', got $n"; grep -E "desync|error|FAIL" "$WORK/$1.err" | head -12 | sed 's/^/    /'; fi
}

echo "=== a rank stopped mid-step (SIGSTOP)"
start_job stop 100000
wait_steps stop 2
victim=$(pid_of_rank "$FSDP" 2 "$job") || fail "stop: rank 2 not found"
kill -STOP "$victim"
wait_exit "$job" "$limit"
# shellcheck disable=SC2154  # rc: set by wait_exit (tests/lib.sh)
if [ "$rc" -eq 3 ]; then pass "stop: the job exits 3"; else fail "stop: exit $rc, want 3"; fi
expect_report stop "rank 2 \([^)]+\) left no trace \(stopped, dead or unreachable\) and never finished 'world' #[0-9]+ [a-z_]+ float .*; ranks 0-1,3 wait in it since [0-9.]+ s"
nothing_left stop
if "$TRACE" desync "$WORK/stop" >"$WORK/stop.offline" && grep -q "rank 2 .* left no trace" "$WORK/stop.offline"; then
  pass "stop: dtbench-trace desync prints the same report afterwards"
else fail "stop: dtbench-trace desync: $(cat "$WORK/stop.offline")"; fi
for r in 0 1 3; do
  python3 - "$WORK/stop/comm_trace.rank$r.json" <<'PY' || fail "stop: rank $r's trace"
import json, sys
t = json.load(open(sys.argv[1]))
assert t["schema"] == "dtbench.comm_trace/v1" and t["world_size"] == 4 and len(t["hosts"]) == 4, t
ops = t["ops"]
assert 0 < len(ops) <= 64, len(ops)
flying = [o for o in ops if o["state"] != "done"]
assert flying and all(o["comm"] == "world" and o["group"] == "0-3" for o in flying), flying
assert all(o["bytes"] > 0 and "step " in o["context"] for o in flying), flying
assert {o["state"] for o in ops} <= {"enqueued", "started", "done", "failed"}
PY
done

echo "=== a rank that skips one collective (DTBENCH_FAULT_OP=skip)"
# Op #71 is step 3's reduce_scatter of FSDP unit 2 (32 ops a step); the next one, unit 1's, has
# the same shape, so only where it was issued tells them apart.
start_job skip 3 DTBENCH_FAULT_OP=skip:1:71
wait_exit "$job" "$limit"
if [ "$rc" -eq 4 ]; then pass "skip: the job exits 4"; else fail "skip: exit $rc, want 4"; fi
for r in 0 1 2 3; do
  if grep -qE "^\[$r\] .*rank 1 entered 'world' #71 reduce_scatter float x [0-9]+ avg \(step 3 / micro-batch 0 backward / fsdp unit 1 backward / fsdp reduce_scatter unit 1\)" "$WORK/skip.err"; then
    pass "skip: rank $r names rank 1's op #71 and where it came from"
  else fail "skip: rank $r does not name rank 1's op #71"; grep "^\[$r\]" "$WORK/skip.err" | tail -3; fi
done
nothing_left skip

echo "=== a rank that issues a different op (DTBENCH_FAULT_OP=swap)"
start_job swap 3 DTBENCH_FAULT_OP=swap:1:40
wait_exit "$job" "$limit"
if [ "$rc" -eq 4 ]; then pass "swap: the job exits 4"; else fail "swap: exit $rc, want 4"; fi
for r in 0 1 2 3; do
  if grep -qE "^\[$r\] .*rank 1 entered 'world' #40 barrier" "$WORK/swap.err"; then pass "swap: rank $r names rank 1's barrier at #40"
  else fail "swap: rank $r does not name rank 1's barrier at #40"; grep "^\[$r\]" "$WORK/swap.err" | tail -3; fi
done
nothing_left swap

echo "=== SIGUSR1 to dtbench-launch: traces and a report, and the run goes on"
start_job usr1 40
wait_steps usr1 3
kill -USR1 "$job"
wait_exit "$job" 120
if [ "$rc" -eq 0 ] && [ -s "$WORK/usr1/record.json" ]; then pass "usr1: the run finishes and writes its record"
else fail "usr1: exit $rc"; tail -5 "$WORK/usr1.err"; fi
n=$(grep -c "SIGUSR1: comm trace written" "$WORK/usr1.err" || true)
if [ "$n" -eq 4 ]; then pass "usr1: every rank wrote its trace"; else fail "usr1: $n of 4 ranks wrote a trace"; fi
if [ "$(grep -c '^\[0\] .*desync report:' "$WORK/usr1.err" || true)" -ge 1 ] && ! grep -q '^\[[123]\] .*desync report:' "$WORK/usr1.err"; then
  pass "usr1: rank 0 alone prints the report"
else fail "usr1: report lines: $(grep -c 'desync report' "$WORK/usr1.err")"; fi

echo "=== SIGUSR1 to mpirun (collectives_perf, MPI backend)"
"$MPIRUN_LOCAL" 3 "$COLLPERF" -b 64K -e 64K -n 100000000 -c 0 --comm-timeout "$timeout_s" --run-dir "$WORK/mpi" \
  >"$WORK/mpi.out" 2>"$WORK/mpi.err" &
mjob=$!
cleanup_hooks+=("kill -KILL $mjob 2>/dev/null; pkill -KILL -f '$COLLPERF' 2>/dev/null")
for _ in $(seq 300); do grep -q '(B)' "$WORK/mpi.out" 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -USR1 "$mjob"
for _ in $(seq 100); do grep -q "desync report" "$WORK/mpi.err" && break; sleep 0.1; done
sleep 1
if [ "$(grep -c "SIGUSR1: comm trace written" "$WORK/mpi.err" || true)" -eq 3 ] && grep -q "desync report" "$WORK/mpi.err"; then
  pass "mpi: mpirun passes SIGUSR1 on; 3 traces and a report"
else fail "mpi: $(grep -E 'SIGUSR1|desync' "$WORK/mpi.err" | head -5)"; fi
if kill -0 "$mjob" 2>/dev/null; then pass "mpi: the job goes on after SIGUSR1"; else fail "mpi: the job ended on SIGUSR1"; fi
kill -TERM "$mjob"; wait_exit "$mjob" 30
pkill -KILL -f "$COLLPERF" 2>/dev/null || true

echo "=== SIGUSR1 before the world is up"
port=$(free_port)
RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
  "$FSDP" "${common[@]}" --steps 2 --run-dir "$WORK/early" --out "$WORK/early/record.json" >"$WORK/early.0.out" 2>"$WORK/early.0.err" &
r0=$!
cleanup_hooks+=("kill -KILL $r0 2>/dev/null")
# Once it takes SIGUSR1 itself (blocked in every thread: bit 10 of SigBlk), before its peer exists.
for _ in $(seq 300); do
  blk=$(awk '/^SigBlk/ {print $2}' "/proc/$r0/status" 2>/dev/null || echo 0)
  [ $(( 16#${blk:-0} & 0x200 )) -ne 0 ] && break
  sleep 0.05
done
kill -USR1 "$r0"
sleep 0.5
RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
  "$FSDP" "${common[@]}" --steps 2 --run-dir "$WORK/early" --out "$WORK/early/record.json" >"$WORK/early.1.out" 2>"$WORK/early.1.err" &
r1=$!
cleanup_hooks+=("kill -KILL $r1 2>/dev/null")
wait_exit "$r0" 120; rc0=$rc
wait_exit "$r1" 60
if [ "$rc0" -eq 0 ] && [ "$rc" -eq 0 ] && [ -s "$WORK/early/record.json" ]; then pass "early SIGUSR1: the run finishes and writes its record"
else fail "early SIGUSR1: exits $rc0 and $rc"; tail -3 "$WORK/early.0.err"; fi
if [ "$(grep -c "SIGUSR1 before the world is up" "$WORK/early.0.err" || true)" -eq 1 ]; then pass "early SIGUSR1: one line says so"
else fail "early SIGUSR1: $(cat "$WORK/early.0.err")"; fi

echo "=== bad input"
expect_exit 2 "a malformed DTBENCH_FAULT_OP" -- env DTBENCH_FAULT_OP=drop:1 "$FSDP" "${common[@]}" --steps 1
grep -q "DTBENCH_FAULT_OP=drop:1: want skip:RANK:SEQ" "$WORK/err" || fail "the fault variable's message: $(cat "$WORK/err")"
expect_exit 2 "dtbench-trace desync on a missing folder" -- "$TRACE" desync "$WORK/none"
mkdir -p "$WORK/mixed"
cp "$WORK/stop/comm_trace.rank0.json" "$WORK/mixed/"
cp "$WORK/mpi/comm_trace.rank1.json" "$WORK/mixed/"
expect_exit 2 "dtbench-trace desync on traces of two runs" -- "$TRACE" desync "$WORK/mixed"
grep -q "different runs" "$WORK/err" || fail "the two-runs message: $(cat "$WORK/err")"
finish
