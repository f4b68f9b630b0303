#!/usr/bin/env bash
# The bad-node finder (env_check --sweep) on a virtual cluster of its own with 4 nodes, one rank
# each under mpirun (started from the head), every link shaped to 400 Mbit/s so that the links, not this machine's two
# cores, set the rates, and the nodes probed one at a time (--sweep-serial: they share the two
# cores), flagging below half the median (--sweep-margin 0.5: 4 nodes on 2 cores measure a
# healthy node at 69 % of the median now and then; the planted faults are at 10-25 %)
# (3 runs of each case):
#   unperturbed: exit 0, nobody named;
#   node2's link at a quarter of the others' (100 Mbit/s): exit 4, node2 named for its link
#   and nothing else, the record's exclude is --exclude=node2;
#   node1 throttled to 10 % of one CPU (a CFS quota in a cgroup): exit 4, node1 named for its
#   GEMM rate.
# Everything the cluster made (namespaces, links, cgroups) is gone afterwards.
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
DTBENCH_CLUSTER_DIR="$WORK/vc4"
export DTBENCH_CLUSTER_DIR
ENV_CHECK="$DTBENCH_BIN/benchmarks/env_check"
cleanup_hooks+=("bash '$CLUSTER' down '$DTBENCH_CLUSTER_DIR' >/dev/null")
expect_exit 0 "up 4 nodes" -- bash "$CLUSTER" up "$DTBENCH_CLUSTER_DIR" 4
printf 'node%d slots=1\n' 0 1 2 3 >"$DTBENCH_CLUSTER_DIR/hostfile"
for k in 0 1 2 3; do bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" "node$k" rate=400mbit; done

# sweep NAME: one sweep over the 4 nodes; its exit code in rc, the record in $WORK/NAME.json.
sweep() {
  rc=0
  # 4 nodes on this machine's 2 cores: a rank waiting for its peer yields its core.
  # mpirun from the head: a rank that is mpirun's own child (on node0) measured at a third of the
  # others' rates whenever this machine had other work; each launched by its node's orted, they agree.
  MPIRUN_NODE=head MPIRUN_EXTRA="--mca mpi_yield_when_idle 1" cluster_mpirun 4 "$ENV_CHECK" --sweep --sweep-serial --sweep-margin 0.5 --sweep-seconds 0.5 --sweep-bytes 1M --threads 1 --out "$WORK/$1.json" \
    >"$WORK/$1.out" 2>&1 || rc=$?
}

# named NAME HOST CAUSE: the record names exactly HOST, with CAUSE among its causes; a link
# cause comes without a compute one (a throttled CPU also moves fewer bytes: its link may be
# named beside its GEMM rate); prints HOST's figures.
named() {
  python3 - "$WORK/$1.json" "$2" "$3" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s, host, cause = r["sweep"], sys.argv[2], sys.argv[3]
assert s["bad_hosts"] == [host], s["bad_hosts"]
n = [x for x in s["nodes"] if x["host"] == host][0]
assert cause in n["causes"] and (cause != "link" or not {"gemm", "memory"} & set(n["causes"])), n
assert s["exclude"] == "--exclude=" + host, s["exclude"]
assert len(s["links"]) == 6 and sorted(x["host"] for x in s["nodes"]) == ["node0", "node1", "node2", "node3"], s
print(f"    {host}: causes {n['causes']}, gemm {n['gemm_gflops']:.2f} GFLOP/s (median {s['median']['gemm_gflops']:.2f}), "
      f"link {n['link_gbps']:.4f} GB/s (median {s['median']['link_gbps']:.4f})")
PY
}

for run in 1 2 3; do
  sweep "healthy$run"
  if [ "$rc" -eq 0 ] && python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["sweep"]; assert s["bad_hosts"] == [] and len(s["links"]) == 6, s' \
    "$WORK/healthy$run.json" && grep -q "^# verdict: no node is bad$" "$WORK/healthy$run.out"; then
    pass "unperturbed cluster, run $run of 3: exit 0, no node named"
  else
    fail "unperturbed run $run: exit $rc"
    tail -12 "$WORK/healthy$run.out"
  fi
done

bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" node2 rate=100mbit
for run in 1 2 3; do
  sweep "link$run"
  if [ "$rc" -eq 4 ] && named "link$run" node2 link &&
    grep -q "rerun without them: sbatch --exclude=node2 ..." "$WORK/link$run.out"; then
    pass "node2's link at a quarter, run $run of 3: exit 4, node2 named for its link, --exclude=node2"
  else
    fail "shaped node2, run $run: exit $rc"
    tail -12 "$WORK/link$run.out"
  fi
done
bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" node2 rate=400mbit

bash "$CLUSTER" throttle "$DTBENCH_CLUSTER_DIR" node1 10
for run in 1 2 3; do
  sweep "cpu$run"
  if [ "$rc" -eq 4 ] && named "cpu$run" node1 gemm; then
    pass "node1 throttled to 10 % of a CPU, run $run of 3: exit 4, node1 named for its GEMM rate"
  else
    fail "throttled node1, run $run: exit $rc"
    tail -12 "$WORK/cpu$run.out"
  fi
done
grep -E "^# verdict|BAD" "$WORK/cpu1.out" | sed 's/^/    /'

expect_exit 0 "down" -- bash "$CLUSTER" down "$DTBENCH_CLUSTER_DIR"
left="$(bash "$CLUSTER" leftovers "$DTBENCH_CLUSTER_DIR")"
[ -z "$left" ] && pass "nothing of the 4-node cluster is left (processes, mounts, links, cgroups)" ||
  fail "left over: $left"
finish
