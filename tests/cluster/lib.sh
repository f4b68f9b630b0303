# shellcheck shell=bash
# Helpers of the multi-node tests: the shared virtual cluster (tests/cluster/up.sh brings it up
# as a CTest fixture), running on a node, mpirun across nodes.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
CLUSTER="$DTBENCH_SRC/tests/cluster/cluster.sh"
: "${DTBENCH_CLUSTER_DIR:=$DTBENCH_BIN/tests/vcluster}"
export DTBENCH_CLUSTER_DIR
SUBNET=10.233.0.0/24

on() {  # on NODE CMD...: CMD on NODE of the shared cluster
  local node="$1"
  shift
  bash "$CLUSTER" exec "$DTBENCH_CLUSTER_DIR" "$node" "$@"
}

# cluster_mpirun [HOSTFILE] NP PROGRAM ARGS...: launch/mpirun-hosts from node0 (MPIRUN_NODE) across the
# hostfile's nodes (default: the cluster's), every byte on the cluster's /24
# (tests/cluster/rsh.sh enters the other nodes); MPIRUN_EXTRA: more mpirun options.
cluster_mpirun() {
  local hostfile="$DTBENCH_CLUSTER_DIR/hostfile"
  [ -f "$1" ] && { hostfile="$1"; shift; }
  on "${MPIRUN_NODE:-node0}" env DTBENCH_MPI_NET="$SUBNET" DTBENCH_MPIRUN_ARGS="--mca plm_rsh_agent $DTBENCH_SRC/tests/cluster/rsh.sh \
--mca plm_rsh_no_tree_spawn 1 -x DTBENCH_CLUSTER_DIR ${MPIRUN_EXTRA:-}" "$DTBENCH_SRC/launch/mpirun-hosts" "$hostfile" "$@"
}

# link_bytes NODE: "tx rx" bytes of NODE's veth, as its bridge end counts them.
link_bytes() {
  bash "$CLUSTER" exec-outer "$DTBENCH_CLUSTER_DIR" ip -s -j link show "v$1" |
    python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["stats64"]; print(s["tx"]["bytes"], s["rx"]["bytes"])'
}

launch_pids=()
# launch_nodes NAME MASTER_PORT LAUNCHER_ARGS -- PROGRAM ARGS: one dtbench-launch per node (2
# ranks each, rendezvous on node0), in the background; their pids in launch_pids.
launch_nodes() {
  local name="$1" port="$2" k
  shift 2
  launch_pids=()
  for k in 0 1; do
    on "node$k" env DTBENCH_JOB_TOKEN="cluster-test-token-0123456789abcdef" \
      "$DTBENCH_BIN/launch/dtbench-launch" --nproc-per-node 2 --nnodes 2 --node-rank "$k" \
      --master-addr node0 --master-port "$port" "$@" >"$WORK/$name.node$k.out" 2>"$WORK/$name.node$k.err" &
    launch_pids+=($!)
    cleanup_hooks+=("kill -KILL $! 2>/dev/null")
  done
}

codes=()
wait_launchers() {  # wait_launchers SECONDS: both launchers' exit codes in codes[]
  local k
  codes=()
  for k in 0 1; do
    wait_exit "${launch_pids[$k]}" "$1"
    codes+=("$rc")
  done
}

# proves_network WHAT RECORD LIBRARY OUTPUT...: the record's network proof of a 2-node run on
# the cluster, as measured: LIBRARY's TCP connections crossed the nodes on eth0, both hosts'
# eth0 counters moved, no EFA (verdict no_efa), and the outputs hold its warning exactly once.
proves_network() {
  local what="$1" record="$2" library="$3" warnings
  shift 3
  warnings=$(cat "$@" | grep -c "dtbench: WARNING !!! this 2-node run crossed nodes over TCP" || true)
  if [ "$warnings" -eq 1 ] && python3 - "$record" "$library" <<'PY'; then
import json, sys
n = json.load(open(sys.argv[1]))["network"]
lib = sys.argv[2]
assert n["nodes"] == 2 and n["verdict"] == "no_efa" and n["efa_devices"] == 0, n
t = [x for x in n["transports"] if x["library"] == lib and x["transport"] == "tcp"]
assert t and t[0]["interfaces"] == ["eth0"] and t[0]["cross_node_connections"] > 0, n["transports"]
hosts = {h["host"]: h["links"] for h in n["hosts"]}
assert sorted(hosts) == ["node0", "node1"], hosts
assert all(l["eth0"]["tx_bytes"] > 0 and l["eth0"]["rx_bytes"] > 0 for l in hosts.values()), hosts
print("    " + n["warning"])
print("    transports: " + "; ".join(f"{x['library']} {x['transport']} on {'+'.join(x['interfaces']) or '-'}: "
      f"{x['ranks']} ranks, {x['cross_node_connections']} connections to the other node" for x in n["transports"]))
PY
    pass "$what: network proof measured ($library over TCP on eth0, both hosts' eth0 moved, no EFA), one warning"
  else
    fail "$what: network proof (warnings printed: $warnings)"
  fi
}
