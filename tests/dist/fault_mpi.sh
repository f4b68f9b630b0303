#!/usr/bin/env bash
# A rank that hangs (SIGSTOP) or dies (SIGKILL) under mpirun: every other rank exits 3
# naming the op it waited in, and nothing of the job is left, within comm-timeout + 10 s.
source "$(dirname "$0")/../lib.sh"
timeout_s=5
limit=$((timeout_s + 10))

start_job() {  # start_job NAME: 3 ranks of all_reduce until stopped
  "$MPIRUN_LOCAL" 3 "$COLLPERF" -b 64K -e 64K -n 100000000 -c 0 --comm-timeout "$timeout_s" \
    --run-dir "$WORK/run-$1" >"$WORK/$1.out" 2>"$WORK/$1.err" &
  job=$!
  cleanup_hooks+=("kill -KILL $job 2>/dev/null; pkill -KILL -f '$COLLPERF' 2>/dev/null")
  for _ in $(seq 300); do grep -q '(B)' "$WORK/$1.out" 2>/dev/null && break; sleep 0.1; done
  sleep 1
  victim=$(pid_of_rank "$COLLPERF" 1 "$job") || { fail "$1: rank 1 not found"; return 1; }
}

# wait_job NAME: waits up to $limit s for mpirun; sets rc (124 when it still runs).
wait_job() {
  wait_exit "$job" "$limit"
  kill -KILL "$victim" 2>/dev/null || true
  if pgrep -f "$COLLPERF" >/dev/null; then fail "$1: processes left after the job ended"; pkill -KILL -f "$COLLPERF"; fi
}

# --- a hung rank
start_job stop
kill -STOP "$victim"
wait_job stop  # sets rc (wait_exit)
# shellcheck disable=SC2154  # rc: set by wait_exit (tests/lib.sh)
if [ "$rc" -eq 3 ]; then pass "SIGSTOP: the job exits 3"; else fail "SIGSTOP: exit $rc, want 3"; cat "$WORK/stop.err"; fi
for r in 0 2; do
  if grep -E "\[dtbench rank $r\] .*communicator 'world' op #[0-9]+ all_reduce" "$WORK/stop.err" >/dev/null; then
    pass "SIGSTOP: rank $r names the op it waited in"
  else
    fail "SIGSTOP: rank $r does not name its op"; sed 's/^/    /' "$WORK/stop.err" | head -20
  fi
done
trace=$(ls "$WORK"/run-stop/comm_trace.rank*.json 2>/dev/null | head -1)
if [ -n "$trace" ] && grep -qE "\"state\": \"(started|failed)\"" "$trace"; then pass "SIGSTOP: trace of the last ops written"
else fail "SIGSTOP: no trace with the op in flight in $WORK/run-stop"; fi
if [ "$(grep -cE "desync report: rank 1 \([^)]+\) left no trace .* never finished 'world' #[0-9]+ all_reduce" "$WORK/stop.err")" -eq 1 ]
then pass "SIGSTOP: one desync report names rank 1 and the all_reduce"
else fail "SIGSTOP: desync report: $(grep desync "$WORK/stop.err")"; fi

# --- a dead rank
start_job kill
kill -KILL "$victim"
wait_job kill
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then pass "SIGKILL: the job ends with status $rc"
else fail "SIGKILL: status $rc (124 = still running after ${limit} s)"; fi
finish
