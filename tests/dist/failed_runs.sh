#!/usr/bin/env bash
# Failed runs: one report, one exit code, and a record.
# - A stopped peer (SIGSTOP, 3 ranks over the TCP store, --comm-timeout 3), 10 attempts: the
#   store's timeout on the main thread and the watchdog's race every time; in every attempt
#   both live ranks exit 3 with exactly one report, and rank 0's --out holds a valid record
#   (the op that waited may be the world's or one of its sub-communicators', e.g. world/s0c0)
#   with status failed, exit_code 3, the cause and the steps done.
# - SIGTERM to rank 0 mid-run: exit 3, a failed record naming the signal.
# - A loss that turns NaN (2 ranks over MPI, --lr 1e8): exit 4, a failed record with the
#   steps before it.
source "$(dirname "$0")/../lib.sh"
TRAIN="$DTBENCH_BIN/benchmarks/fsdp_llama"
VALIDATE="$DTBENCH_SRC/tools/dtbench-validate"

start_world() {  # start_world NAME: 3 ranks over the store, until step 3 is done
  local port r
  port=$(free_port)
  pids=()
  for r in 0 1 2; do
    RANK=$r WORLD_SIZE=3 LOCAL_RANK=$r LOCAL_WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$TRAIN" --model tiny --steps 100000 --threads 1 --log-every 1 --comm-timeout 3 --run-dir "$WORK/$1" \
      --out "$WORK/$1.json" >"$WORK/$1.$r.out" 2>"$WORK/$1.$r.err" &
    pids+=($!)
    cleanup_hooks+=("kill -KILL ${pids[$r]} 2>/dev/null")
  done
  for _ in $(seq 600); do grep -q "^Batch 3 " "$WORK/$1.0.out" 2>/dev/null && break; sleep 0.1; done
}

# record_says NAME CODE PATTERN STEPS: $WORK/NAME.json is a valid failed record with exit_code
# CODE, an error matching PATTERN and at least STEPS steps; prints "" or what is wrong.
record_says() {
  "$VALIDATE" "$WORK/$1.json" >/dev/null 2>&1 || { echo "no valid record: $("$VALIDATE" "$WORK/$1.json" 2>&1)"; return; }
  python3 - "$WORK/$1.json" "$2" "$3" "$4" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
ok = r["status"] == "failed" and r.get("exit_code") == int(sys.argv[2]) and re.search(sys.argv[3], r["error"] or "") \
    and len(r["steps"]) >= int(sys.argv[4]) and [s["step"] for s in r["steps"]] == list(range(len(r["steps"])))
print("" if ok else f"status {r['status']}, exit_code {r.get('exit_code')}, {len(r['steps'])} steps, error {r['error']!r}")
PY
}

bad=0
for attempt in $(seq 10); do
  name="stop$attempt"
  start_world "$name"
  kill -STOP "${pids[1]}"
  problems=""
  for r in 0 2; do
    wait_exit "${pids[$r]}" 20
    reports=$(grep -cE ": error: |exiting 3" "$WORK/$name.$r.err" || true)
    [ "$rc" -eq 3 ] && [ "$reports" -eq 1 ] && ! grep -q "terminate called" "$WORK/$name.$r.err" ||
      problems+=" rank $r: exit $rc, $reports report(s);"
  done
  kill -KILL "${pids[1]}" 2>/dev/null || true
  wait "${pids[1]}" 2>/dev/null || true
  said=$(record_says "$name" 3 "^communicator 'world[^']*' op .*comm-timeout|^store at .*comm-timeout" 3)
  [ -z "$said" ] || problems+=" record: $said"
  if [ -n "$problems" ]; then
    bad=$((bad + 1))
    echo "    attempt $attempt:$problems"
    sed 's/^/      /' "$WORK/$name.0.err" | grep -v "^      \[W" | head -5
  fi
done
if [ "$bad" -eq 0 ]; then pass "stopped peer, 10 attempts: exit 3 with one report on both live ranks, a failed record, every time"
else fail "stopped peer: $bad of 10 attempts went wrong"; fi

start_world term
kill -TERM "${pids[0]}"
wait_exit "${pids[0]}" 20
kill -KILL "${pids[1]}" "${pids[2]}" 2>/dev/null || true
wait "${pids[1]}" "${pids[2]}" 2>/dev/null || true
said=$(record_says term 3 "^received SIGTERM" 3)
if [ "$rc" -eq 3 ] && [ -z "$said" ]; then pass "SIGTERM on rank 0: exit 3, a failed record naming it"
else fail "SIGTERM on rank 0: exit $rc; $said"; fi

rc=0
"$MPIRUN_LOCAL" 2 "$TRAIN" --model tiny --steps 30 --threads 1 --lr 1e8 --grad-clip 0 --out "$WORK/nan.json" \
  >"$WORK/nan.out" 2>&1 || rc=$?
said=$(record_says nan 4 "^loss is .*nan at step 2" 2)
if [ "$rc" -ne 0 ] && [ -z "$said" ]; then pass "a NaN loss: exit $rc, a failed record with the steps before it"
else fail "NaN loss: exit $rc; $said"; fi
finish
