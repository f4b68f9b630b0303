#!/usr/bin/env bash
# The network proof in real records: EFA counters read from a fake sysfs tree
# (DTBENCH_SYSFS_ROOT) before and after the measured part, their deltas per host, and the
# verdict. A background writer moves one device's tx_bytes during the run, as traffic would.
source "$(dirname "$0")/../lib.sh"
VALIDATE="$DTBENCH_SRC/tools/dtbench-validate"
sysfs="$WORK/sys"
for d in rdmap16s27 rdmap17s27; do fake_efa_device "$sysfs" "$d" tx_bytes=100 rx_bytes=100 retrans_pkts=100; done
export DTBENCH_SYSFS_ROOT="$sysfs"

# Moves rdmap16s27's tx_bytes up while it runs (replace the file, as sysfs would show it).
counter="$sysfs/class/infiniband/rdmap16s27/ports/1/hw_counters/tx_bytes"
( n=100; while :; do n=$((n + 4096)); echo "$n" >"$counter.new" && mv "$counter.new" "$counter"; sleep 0.02; done ) &
writer=$!
cleanup_hooks+=("kill $writer 2>/dev/null")

"$MPIRUN_LOCAL" 2 "$COLLPERF" -b 1M -e 4M -f 2 -n 20 --out "$WORK/coll.json" >"$WORK/coll.out" 2>&1 \
  || { fail "collectives_perf failed"; tail "$WORK/coll.out"; }
kill "$writer" 2>/dev/null || true
"$VALIDATE" "$WORK/coll.json" >/dev/null && pass "collectives_perf: record with network valid" || fail "record invalid"
python3 - "$WORK/coll.json" <<'PY' && pass "collectives_perf: 2 EFA devices on 1 host, tx moved on one, verdict single_node" || fail "network object wrong"
import json, sys
n = json.load(open(sys.argv[1]))["network"]
assert n["nodes"] == 1 and n["backend"] == "mpi" and n["verdict"] == "single_node" and n["warning"] == "", n
assert len(n["hosts"]) == 1 and n["hosts"][0]["device_count"] == 2 and n["efa_devices"] == 2, n
devs = {d["name"]: d for d in n["hosts"][0]["devices"]}
assert devs["rdmap16s27"]["tx_bytes"] > 0 and devs["rdmap17s27"]["tx_bytes"] == 0, devs
assert n["hosts"][0]["tx_bytes"] == devs["rdmap16s27"]["tx_bytes"]
assert n["nccl_ranks"] == [], "no NCCL on CPU"
PY

# No EFA at all: the record says so plainly.
DTBENCH_SYSFS_ROOT="$WORK/empty" "$MPIRUN_LOCAL" 2 "$COLLPERF" -b 1K -e 1K -n 2 --out "$WORK/none.json" >/dev/null 2>&1 \
  || fail "collectives_perf without EFA failed"
python3 -c 'import json,sys; n=json.load(open(sys.argv[1]))["network"]; assert n["efa_devices"]==0 and n["hosts"][0]["device_count"]==0, n' \
  "$WORK/none.json" && pass "without EFA: zero devices recorded" || fail "without EFA: wrong network object"
finish
