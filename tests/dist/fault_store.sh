#!/usr/bin/env bash
# The same faults in a world bootstrapped over the TCP store (no MPI): the ranks that are
# left exit 3 naming the store exchange they waited in, within comm-timeout + 10 s.
source "$(dirname "$0")/../lib.sh"
PROBE="$DTBENCH_BIN/tests/store_probe"
timeout_s=5
limit=$((timeout_s + 10))

start_world() {  # start_world NAME: 3 ranks exchanging through the store
  local port r
  port=$(free_port)
  pids=()
  for r in 0 1 2; do
    RANK=$r WORLD_SIZE=3 LOCAL_RANK=$r LOCAL_WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$PROBE" --seconds 120 --comm-timeout "$timeout_s" --run-dir "$WORK/run-$1" \
      >"$WORK/$1.$r.out" 2>"$WORK/$1.$r.err" &
    pids+=($!)
    cleanup_hooks+=("kill -KILL ${pids[$r]} 2>/dev/null")
  done
  for _ in $(seq 300); do
    [ "$(cat "$WORK/$1".*.out 2>/dev/null | grep -c ready)" -eq 3 ] && break
    sleep 0.1
  done
  sleep 0.5
}

check_survivors() {  # check_survivors NAME VICTIM
  local r rc
  for r in 0 1 2; do
    [ "$r" -eq "$2" ] && continue
    wait_exit "${pids[$r]}" "$limit"
    if [ "$rc" -eq 3 ]; then pass "$1: rank $r exits 3"; else fail "$1: rank $r exit $rc, want 3"; cat "$WORK/$1.$r.err"; fi
    if grep -q "store" "$WORK/$1.$r.err" && grep -q "all_gather" "$WORK/$1.$r.err"; then
      pass "$1: rank $r names the store exchange"
    else
      fail "$1: rank $r's message: $(cat "$WORK/$1.$r.err")"
    fi
  done
  kill -KILL "${pids[$2]}" 2>/dev/null || true
}

start_world stop
kill -STOP "${pids[1]}"
check_survivors stop 1

start_world kill
kill -KILL "${pids[2]}"
check_survivors kill 2

# SIGTERM (what Slurm and Kubernetes send first): the op in flight is named, exit 3.
start_world term
kill -TERM "${pids[1]}"
wait_exit "${pids[1]}" "$limit"
if [ "$rc" -eq 3 ]; then pass "SIGTERM: exit 3"; else fail "SIGTERM: exit $rc, want 3"; fi
if grep -q "received SIGTERM" "$WORK/term.1.err"; then pass "SIGTERM: says so"; else fail "SIGTERM: $(cat "$WORK/term.1.err")"; fi
check_survivors term 1
finish
