#!/usr/bin/env bash
# Open MPI across two nodes of the virtual cluster (2 ranks each, every byte on its /24):
# collectives_perf runs every op with zero wrong elements and its record names both hosts
# with their ranks; fabric_perf crosses the nodes over libfabric's tcp provider; with node1's
# link shaped to 80 Mbit/s, the bytes that cross its veth per second of the run stay within
# 2 % of that rate (busbw is printed beside it: it may exceed the link's rate, by algorithm).
source "$(dirname "$0")/lib.sh"
COLL="$DTBENCH_BIN/benchmarks/collectives_perf"
for op in all_reduce all_gather reduce_scatter broadcast reduce all_to_all send_recv; do
  rc=0
  cluster_mpirun 4 "$COLL" --op "$op" -b 8 -e 256K -f 8 -n 3 -w 1 --out "$WORK/$op.json" >"$WORK/$op.out" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ] && grep -q "# Out of bounds values : 0 OK" "$WORK/$op.out"; then pass "$op on 2 nodes x 2 ranks: #wrong 0"
  else fail "$op: exit $rc"; tail -5 "$WORK/$op.out"; fi
done
python3 - "$WORK/all_reduce.json" <<'PY' && pass "the record names node0 (ranks 0, 1) and node1 (ranks 2, 3)" || fail "record hosts"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["launch"]["nodes"] == 2 and r["system"]["hosts"] == ["node0", "node1"], (r["launch"], r["system"]["hosts"])
assert [(p["rank"], p["host"]) for p in r["per_rank"]] == [(0, "node0"), (1, "node0"), (2, "node1"), (3, "node1")], r["per_rank"]
PY

if [ -x "$DTBENCH_BIN/benchmarks/fabric_perf" ]; then
  rc=0
  MPIRUN_EXTRA="--map-by node -x FI_TCP_IFACE=eth0" cluster_mpirun 2 "$DTBENCH_BIN/benchmarks/fabric_perf" --provider tcp \
    -b 8 -e 1M -f 4 -n 5 -w 1 --out "$WORK/fabric.json" >"$WORK/fabric.out" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ] && python3 - "$WORK/fabric.json" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
assert [p["host"] for p in r["per_rank"]] == ["node0", "node1"], r["per_rank"]
assert r["rows"] and all(x["wrong"] == 0 for x in r["rows"]), r["rows"]
print(f"    fabric_perf tcp node0 <-> node1: {r['rows'][-1]['bw_gbps']:.3f} GB/s at {r['rows'][-1]['size_bytes']} B")
PY
    pass "fabric_perf between node0 and node1 (tcp provider): every size, zero wrong bytes"
  else fail "fabric_perf across nodes: exit $rc"; tail -5 "$WORK/fabric.out"; fi
fi

rate_mbit=80
bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" node1 rate=${rate_mbit}mbit
cleanup_hooks+=("bash '$CLUSTER' shape '$DTBENCH_CLUSTER_DIR' node1 clear")
read -r tx0 rx0 <<<"$(link_bytes node1)"
t0=$(date +%s%N)
rc=0
cluster_mpirun 4 "$COLL" --op all_reduce -b 8M -e 8M -n 1 -w 1 --out "$WORK/shaped.json" >"$WORK/shaped.out" 2>&1 || rc=$?
t1=$(date +%s%N)
read -r tx1 rx1 <<<"$(link_bytes node1)"
bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" node1 clear
if [ "$rc" -eq 0 ] && python3 - "$tx0" "$rx0" "$tx1" "$rx1" "$t0" "$t1" "$rate_mbit" "$WORK/shaped.json" <<'PY'; then
import json, sys
tx0, rx0, tx1, rx1, t0, t1, mbit = map(int, sys.argv[1:8])
seconds = (t1 - t0) / 1e9
rate = mbit * 1e6 / 8
busbw = json.load(open(sys.argv[8]))["rows"][0]["out_of_place"]["busbw_gbps"]
for name, b in (("to node1", tx1 - tx0), ("from node1", rx1 - rx0)):
    print(f"    {name}: {b / 2**20:.1f} MiB in {seconds:.1f} s = {b / seconds / 1e6 * 8:.1f} Mbit/s "
          f"(link {mbit} Mbit/s); all_reduce busbw {busbw * 8e3:.1f} Mbit/s")
    assert b > 8 << 20, f"only {b} bytes crossed"
    assert b / seconds <= 1.02 * rate, (b, seconds)
PY
  pass "node1 shaped to ${rate_mbit} Mbit/s: the bytes across its link per second stay within 2 % of the rate"
else fail "shaped run: exit $rc"; tail -5 "$WORK/shaped.out"; fi
finish
