#!/usr/bin/env bash
# collectives_perf end to end: every op on 2 and 3 ranks with #wrong 0, the table's
# shape, and the result record; -J's nccl-tests JSON (our checker, cli/nccl_json_check.py,
# which fails a tampered file), -I 1 -K, an existing -J file kept.
source "$(dirname "$0")/../lib.sh"

# The store backend (dtbench-launch, no MPI): a value above c10d's 8 MiB limit goes in pieces.
expect_exit 0 "all_reduce of 12 MiB on the store backend" -- env MASTER_ADDR=127.0.0.1 MASTER_PORT="$(free_port)" \
  "$DTBENCH_BIN/launch/dtbench-launch" --nproc-per-node 2 -- "$COLLPERF" --op all_reduce -b 12M -e 12M -n 2 -w 1
grep -q "backend store" "$WORK/out" && grep -q '^\[0\] # Out of bounds values : 0 OK' "$WORK/out" ||
  fail "store all_reduce of 12 MiB: $(tail -5 "$WORK/out")"

for np in 2 3; do
  for op in all_reduce all_gather reduce_scatter broadcast reduce all_to_all all_to_allv send_recv; do
    out="$WORK/$op-$np.json"
    expect_exit 0 "$op on $np ranks" -- "$MPIRUN_LOCAL" "$np" "$COLLPERF" --op "$op" -b 8 -e 256K -f 8 -n 3 -w 1 \
      --out "$out" --tag purpose=test
    cp "$WORK/out" "$WORK/$op-$np.txt"
    rows=$(grep -cE '^ +[0-9]+ ' "$WORK/$op-$np.txt" || true)
    [ "$rows" -eq 6 ] || fail "$op/$np: $rows table rows, want 6"
    grep -q '^# Out of bounds values : 0 OK' "$WORK/$op-$np.txt" || fail "$op/$np: wrong values"
    grep -q '^# Avg bus bandwidth' "$WORK/$op-$np.txt" || fail "$op/$np: no footer"
    python3 - "$out" "$op" "$np" <<'PY' || fail "$op/$np: record"
import json, sys
r = json.load(open(sys.argv[1]))
op, np = sys.argv[2], int(sys.argv[3])
assert r["schema"] == "dtbench.result/v1" and r["status"] == "ok", r["status"]
assert r["benchmark"] == "collectives_perf"
assert r["launch"]["world_size"] == np and r["launch"]["source"] == "openmpi", r["launch"]
assert len(r["per_rank"]) == np and all(p["peak_mem_bytes"] > 0 for p in r["per_rank"])
assert len(r["rows"]) == 6 and all(x["op"] == op for x in r["rows"])
assert all(x["out_of_place"]["wrong"] == 0 for x in r["rows"])
assert r["config"]["tags"] == {"purpose": "test"}, r["config"]["tags"]
assert r["metrics"]["busbw_avg_gbps"] > 0
assert r["system"]["mpi"].startswith("Open MPI"), r["system"]
assert r["rows"][0]["out_of_place"]["samples_us"]["n"] == 1  # nccl-tests' way: 3 iterations, one timing
assert r["config"]["per_iter_timing"] == "0"
PY
  done
done

# Every dtype and every reduction in one run, every root of a rooted op.
expect_exit 0 "all dtypes and reductions" -- "$MPIRUN_LOCAL" 3 "$COLLPERF" -b 1K -e 1K -d all -o all -n 2
grep -q '^# Out of bounds values : 0 OK' "$WORK/out" || fail "dtype/redop matrix: wrong values"
expect_exit 0 "every root" -- "$MPIRUN_LOCAL" 3 "$COLLPERF" --op reduce -r -1 -b 4K -e 4K -n 2
[ "$(grep -cE '^ +4096 ' "$WORK/out")" -eq 3 ] || fail "-r -1: want a row per root"
# -I 1: each iteration timed alone, their spread in the record.
expect_exit 0 "-I 1, iteration times" -- "$MPIRUN_LOCAL" 2 "$COLLPERF" -b 1K -e 4K -f 4 -n 5 -I 1 --out "$WORK/iter.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); s=r["rows"][0]["out_of_place"]["samples_us"]; assert s["n"] == 5 and s["p10"] <= s["median"] <= s["p90"], s' \
  "$WORK/iter.json" && pass "-I 1: 5 samples per row" || fail "-I 1: samples"

# -J: nccl-tests 2.19's JSON, with and without -I 1 (and -K), every op, 1 to 3 ranks.
CHECK="python3 $DTBENCH_SRC/tests/cli/nccl_json_check.py"
for op in all_reduce all_gather reduce_scatter broadcast reduce all_to_all all_to_allv send_recv; do
  expect_exit 0 "-J -I 1 -K 2, $op on 3 ranks" -- "$MPIRUN_LOCAL" 3 "$COLLPERF" --op "$op" -b 8 -e 64K -f 8 -n 8 \
    -I 1 -K 2 -J "$WORK/$op.nccl.json"
  $CHECK "$WORK/$op.nccl.json" 3 8 2 && pass "-J $op: nccl-tests' format, per-iteration figures recompute" ||
    fail "-J $op"
done
expect_exit 0 "-J without -I, unchecked" -- "$MPIRUN_LOCAL" 2 "$COLLPERF" -b 8 -e 1K -f 4 -n 3 -c 0 -J "$WORK/plain.json"
$CHECK "$WORK/plain.json" 2 3 && pass "-J without -I: nccl-tests' format, nwrong null" || fail "-J plain"
expect_exit 0 "-J on one process" -- "$COLLPERF" -b 8 -e 64 -f 8 -n 4 -I 1 -J "$WORK/one.json"
$CHECK "$WORK/one.json" 1 4 && pass "-J one process: no per-process rows" || fail "-J one process"
# An existing file is kept (nccl-tests writes FILE.0 then).
expect_exit 0 "-J onto an existing file" -- "$COLLPERF" -b 8 -e 64 -f 8 -n 4 -J "$WORK/one.json"
grep -q "^# Writing JSON output to $WORK/one.json.0$" "$WORK/out" && cmp -s <(head -c 20 "$WORK/one.json") <(printf '{"version":3,"start_') &&
  $CHECK "$WORK/one.json.0" 1 4 && pass "-J onto an existing file: written to FILE.0, the old one kept" ||
  fail "-J onto an existing file"
# The checker fails what nccl-tests would not write.
python3 - "$WORK/all_reduce.nccl.json" "$WORK" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
d = json.loads(text)
d["results"][0]["out_of_place_per_iter"]["times_us"][3] += 1.0
open(sys.argv[2] + "/tampered_times.json", "w").write(json.dumps(d, separators=(",", ":")))
open(sys.argv[2] + "/tampered_bool.json", "w").write(text.replace('"per_iter_timing":"true"', '"per_iter_timing":true'))
open(sys.argv[2] + "/tampered_space.json", "w").write(text.replace('"version":3', '"version": 3'))
PY
for t in times bool space; do
  if $CHECK "$WORK/tampered_$t.json" 3 8 2 2>"$WORK/check.err"; then fail "the checker passed a tampered file ($t)"
  else pass "the checker fails a tampered file ($t): $(cat "$WORK/check.err")"; fi
done
# One process, no launcher.
expect_exit 0 "single process" -- "$COLLPERF" -b 8 -e 64 -f 2 -n 2
finish
