#!/usr/bin/env bash
# Open MPI across two nodes of the virtual cluster (2 ranks each, every byte on its /24):
# collectives_perf runs every op with zero wrong elements and its record names both hosts
# with their ranks, and its network proof is measured (Open MPI's TCP connections across the
# nodes on eth0, both hosts' eth0 counters, shared memory inside a node, no EFA: one warning);
# env_check flags the node whose (fake) EFA devices differ; fabric_perf crosses the nodes over
# libfabric's tcp provider; with node1's
# link shaped to 80 Mbit/s, the bytes that cross its veth per second of the run stay within
# 2 % of that rate (busbw is printed beside it: it may exceed the link's rate, by algorithm);
# node1 pinned to CPU 0 runs its ranks there.
source "$(dirname "$0")/lib.sh"
COLL="$DTBENCH_BIN/benchmarks/collectives_perf"
for op in all_reduce all_gather reduce_scatter broadcast reduce all_to_all all_to_allv send_recv; do
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
proves_network "all_reduce over mpirun" "$WORK/all_reduce.json" mpi "$WORK/all_reduce.out"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["network"]["transports"]; assert any(x["library"]=="mpi" and x["transport"]=="shared_memory" and x["ranks"]==4 for x in t), t' \
  "$WORK/all_reduce.json" && pass "every rank mapped Open MPI's shared memory (its node's other rank)" ||
  fail "no shared memory recorded"

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

# env_check on both nodes, node1 with a fake tree of 2 EFA devices and node0 with none: rank 0
# flags the difference and names node1.
for k in 0 1; do mkdir -p "$WORK/sys.node$k"; done
for i in 0 1; do fake_efa_device "$WORK/sys.node1" "rdmap${i}s0"; done
rc=0
MPIRUN_EXTRA="--map-by node" cluster_mpirun 2 bash -c \
  'DTBENCH_SYSFS_ROOT="$1.$(hostname)" exec "$2" --out "$3"' - "$WORK/sys" "$DTBENCH_BIN/benchmarks/env_check" \
  "$WORK/env.json" >"$WORK/env.out" 2>&1 || rc=$?
if [ "$rc" -eq 4 ] && python3 - "$WORK/env.json" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
d = [c for c in r["checks"] if c["name"] == "efa_devices differs"]
assert d and d[0]["verdict"] == "fail", r["checks"]
assert "on node0 (rank 0" in d[0]["detail"] and "2 on node1 (rank 1" in d[0]["detail"], d[0]
print("    " + d[0]["detail"])
PY
  pass "env_check across nodes: exit 4, node1's 2 EFA devices flagged by name"
else fail "env_check across nodes: exit $rc"; tail -5 "$WORK/env.out"; fi

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

# A node with a CPU of its own (cluster.sh cpus): the ranks mpirun starts there may run on it
# only; a list this machine lacks is refused.
bash "$CLUSTER" cpus "$DTBENCH_CLUSTER_DIR" node1 0
cleanup_hooks+=("bash '$CLUSTER' cpus '$DTBENCH_CLUSTER_DIR' node1 clear")
rc=0
MPIRUN_EXTRA="--map-by node" cluster_mpirun 2 bash -c 'echo "$(hostname) $(nproc) $(taskset -pc $$ | sed "s/.*: //")"' \
  >"$WORK/cpus.out" 2>&1 || rc=$?
if [ "$rc" -eq 0 ] && grep -qx "node1 1 0" "$WORK/cpus.out" && grep -q "^node0 $(nproc) " "$WORK/cpus.out"; then
  pass "cpus node1 0: node1's rank runs on CPU 0 only, node0's on all $(nproc)"
else fail "cpus node1 0: exit $rc; $(tr '\n' ';' <"$WORK/cpus.out")"; fi
bash "$CLUSTER" cpus "$DTBENCH_CLUSTER_DIR" node1 clear
on node1 nproc | grep -qx "$(nproc)" && pass "cpus node1 clear: all CPUs again" || fail "cpus clear: $(on node1 nproc)"
expect_exit 2 "cpus with a CPU this machine lacks" -- bash "$CLUSTER" cpus "$DTBENCH_CLUSTER_DIR" node1 4095
grep -q "is not a list of this machine's CPUs" "$WORK/err" || fail "cpus 4095: $(cat "$WORK/err")"
finish
