#!/usr/bin/env bash
# collectives_perf end to end: every op on 2 and 3 ranks with #wrong 0, the table's
# shape, and the result record.
source "$(dirname "$0")/../lib.sh"

for np in 2 3; do
  for op in all_reduce all_gather reduce_scatter broadcast reduce all_to_all send_recv; do
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
assert r["config"]["iteration_times"] == "false"
PY
  done
done

# Every dtype and every reduction in one run, every root of a rooted op.
expect_exit 0 "all dtypes and reductions" -- "$MPIRUN_LOCAL" 3 "$COLLPERF" -b 1K -e 1K -d all -o all -n 2
grep -q '^# Out of bounds values : 0 OK' "$WORK/out" || fail "dtype/redop matrix: wrong values"
expect_exit 0 "every root" -- "$MPIRUN_LOCAL" 3 "$COLLPERF" --op reduce -r -1 -b 4K -e 4K -n 2
[ "$(grep -cE '^ +4096 ' "$WORK/out")" -eq 3 ] || fail "-r -1: want a row per root"
# -I: each iteration timed alone, their spread in the record.
expect_exit 0 "-I, iteration times" -- "$MPIRUN_LOCAL" 2 "$COLLPERF" -b 1K -e 4K -f 4 -n 5 -I --out "$WORK/iter.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); s=r["rows"][0]["out_of_place"]["samples_us"]; assert s["n"] == 5 and s["p10"] <= s["median"] <= s["p90"], s' \
  "$WORK/iter.json" && pass "-I: 5 samples per row" || fail "-I: samples"
# One process, no launcher.
expect_exit 0 "single process" -- "$COLLPERF" -b 8 -e 64 -f 2 -n 2
finish
