#!/usr/bin/env bash
# --trace and dtbench-trace merge: every rank's timeline is valid Trace Event Format (our own
# checker, tests/cli/trace_check.py, which a broken trace fails), the merged trace has every
# collective on every rank of its group, and the merge recovers clock offsets that really
# differ: ranks started in time namespaces whose CLOCK_MONOTONIC is shifted (on one kernel
# without them every offset would be 0, and the check could not fail).
source "$(dirname "$0")/../lib.sh"
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
DDP="$DTBENCH_BIN/benchmarks/ddp_train"
LAUNCH="$DTBENCH_BIN/launch/dtbench-launch"
TRACE="$DTBENCH_BIN/tools/dtbench-trace"
CHECK=(python3 "$DTBENCH_SRC/tests/cli/trace_check.py")
common=(--model tiny --seq 32 --global-batch 12 --steps 4 --threads 1)

echo "=== the checker fails broken traces"
python3 - "$WORK/bad" <<'PY'
import json, sys
base = sys.argv[1]
def write(name, events):
    json.dump({"traceEvents": events}, open(f"{base}.{name}.json", "w"))
x = lambda name, ts, dur, pid=0, tid=0, **kw: dict(name=name, ph="X", ts=ts, dur=dur, pid=pid, tid=tid, **kw)
write("overlap", [x("a", 0, 10), x("b", 5, 10)])
write("unbalanced", [dict(name="a", ph="B", ts=0, pid=0, tid=0)])
write("flow", [dict(name="f", ph="s", id=1, ts=5, pid=0, tid=0, cat="comm")])
write("fields", [dict(name="a", ph="X", ts=0, pid=0)])
comm = lambda pid, seq: x(f"all_reduce #{seq}", seq, 1, pid=pid, cat="comm",
                          args=dict(comm="world", group="0-1", seq=seq, op="all_reduce float x 4 sum", bytes=16))
write("missing", [comm(0, 1), comm(1, 1), comm(0, 2)])
PY
for bad in overlap unbalanced flow fields; do
  expect_exit 1 "checker: a trace with a bad $bad" -- "${CHECK[@]}" "$WORK/bad.$bad.json"
done
expect_exit 1 "checker: a collective missing on one rank of its group" -- "${CHECK[@]}" --cross-rank "$WORK/bad.missing.json"

echo "=== 4 ranks of fsdp_llama under dtbench-launch (store backend)"
expect_exit 0 "fsdp_llama --trace" -- "$LAUNCH" --nproc-per-node 4 --master-port "$(free_port)" -- "$FSDP" "${common[@]}" \
  --trace "$WORK/fsdp" --out "$WORK/fsdp.json"
for r in 0 1 2 3; do
  "${CHECK[@]}" "$WORK/fsdp/trace.rank$r.json" --expect-span "step 2" --expect-span "micro-batch 0 forward" \
    --expect-span "fsdp unit 1 backward" --expect-span "optimizer" --expect-span "all_gather #" \
    --expect-span "reduce_scatter #" >"$WORK/check.out" && pass "fsdp: rank $r's trace" || { fail "fsdp: rank $r's trace"; cat "$WORK/check.out"; }
done
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['trace_dir'] == sys.argv[2], r.get('trace_dir')" \
  "$WORK/fsdp.json" "$WORK/fsdp" && pass "fsdp: the record names the trace folder" || fail "fsdp: record's trace_dir"
expect_exit 0 "merge 4 ranks" -- "$TRACE" merge "$WORK/fsdp"
grep -q "merged 4 ranks into $WORK/fsdp/trace.merged.json" "$WORK/out" || fail "merge's summary: $(cat "$WORK/out")"
"${CHECK[@]}" --cross-rank "$WORK/fsdp/trace.merged.json" >"$WORK/check.out" && pass "fsdp: merged trace, every collective on every rank" \
  || { fail "fsdp: merged trace"; cat "$WORK/check.out"; }

echo "=== 3 ranks of ddp_train under mpirun (MPI backend)"
expect_exit 0 "ddp_train --trace" -- "$MPIRUN_LOCAL" 3 "$DDP" "${common[@]}" --trace "$WORK/ddp"
expect_exit 0 "merge 3 ranks" -- "$TRACE" merge "$WORK/ddp" --out "$WORK/ddp.merged.json"
"${CHECK[@]}" --cross-rank --expect-span "all_reduce #" "$WORK/ddp.merged.json" >"$WORK/check.out" && pass "ddp: merged trace" \
  || { fail "ddp: merged trace"; cat "$WORK/check.out"; }

echo "=== clocks that differ: each rank in its own time namespace"
# CLOCK_MONOTONIC of rank 1 runs 1000 s ahead of rank 0's, rank 2's 2500 s behind (whole seconds: unshare's unit).
port=$(free_port)
pids=()
offsets=(0 1000 -2500)
for r in 0 1 2; do
  RANK=$r WORLD_SIZE=3 LOCAL_RANK=$r LOCAL_WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    unshare --time --monotonic "${offsets[$r]}" "$FSDP" "${common[@]}" --trace "$WORK/ns" >"$WORK/ns.$r.out" 2>"$WORK/ns.$r.err" &
  pids+=($!)
  cleanup_hooks+=("kill -KILL ${pids[$r]} 2>/dev/null")
done
for r in 0 1 2; do
  wait_exit "${pids[$r]}" 120
  # shellcheck disable=SC2154  # rc: set by wait_exit (tests/lib.sh)
  [ "$rc" -eq 0 ] || { fail "time namespaces: rank $r exit $rc"; tail -3 "$WORK/ns.$r.err"; }
done
expect_exit 0 "merge the time-namespaced ranks" -- "$TRACE" merge "$WORK/ns"
python3 - "$WORK/ns/trace.merged.json" <<'PY' && pass "time namespaces: the merge recovers +1000 s and -2500 s within its residual" || fail "time namespaces: offsets"
import json, sys
m = json.load(open(sys.argv[1]))["otherData"]
residual = m["residual_s"]
want = {0: 0.0, 1: -1000.0, 2: 2500.0}  # rank 0's clock minus the rank's
assert 0 < residual < 0.05, residual
for c in m["clocks"]:
    for k in ("offset_start_s", "offset_end_s"):
        err = abs(c[k] - want[c["rank"]])
        assert err <= residual, (c, err, residual)
print(f"residual {residual * 1e6:.0f} us; offsets {[(c['rank'], round(c['offset_start_s'], 6)) for c in m['clocks']]}")
PY
"${CHECK[@]}" --cross-rank "$WORK/ns/trace.merged.json" >"$WORK/check.out" && pass "time namespaces: merged trace holds" \
  || { fail "time namespaces: merged trace"; cat "$WORK/check.out"; }

echo "=== bad input"
mkdir -p "$WORK/mixed"
cp "$WORK/fsdp/trace.rank0.json" "$WORK/mixed/"
cp "$WORK/ddp/trace.rank1.json" "$WORK/ddp/trace.rank2.json" "$WORK/mixed/"
expect_exit 2 "merge of two runs' traces" -- "$TRACE" merge "$WORK/mixed"
grep -q "a trace of another run" "$WORK/err" || fail "two runs: $(cat "$WORK/err")"
rm "$WORK/mixed/trace.rank0.json"
expect_exit 2 "merge with a rank missing" -- "$TRACE" merge "$WORK/mixed"
expect_exit 2 "merge of a missing folder" -- "$TRACE" merge "$WORK/none"
touch "$WORK/plain-file"
expect_exit 0 "a trace folder that cannot be written: the run goes on" -- "$LAUNCH" --nproc-per-node 2 \
  --master-port "$(free_port)" -- "$FSDP" "${common[@]}" --trace "$WORK/plain-file/sub" --out "$WORK/nodir.json"
if [ "$(grep -c -- "--trace $WORK/plain-file/sub: rank 0 cannot write there" "$WORK/err")" -eq 1 ] && [ -s "$WORK/nodir.json" ]; then
  pass "unwritable trace folder: one line, and the record is written"
else fail "unwritable trace folder: $(cat "$WORK/err")"; fi
finish
