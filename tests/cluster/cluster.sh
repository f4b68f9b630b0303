#!/usr/bin/env bash
# A virtual cluster on this machine: nodes are Linux namespaces (README, "Multi-node on one
# machine"). Root only. DIR is the cluster's folder; everything the cluster holds lives in
# namespaces that die with its holder process (tests/cluster/holder.sh).
#
#   cluster.sh up DIR N               N nodes (node0 ..) and a head, on 10.233.0.0/24
#   cluster.sh exec DIR NODE CMD...   runs CMD on NODE (head, node0, ...): its network, hostname,
#                                     /etc/hosts and clock (nodeK's CLOCK_MONOTONIC runs
#                                     (K+1) x 1000 s ahead); the cluster's PID namespace
#   cluster.sh exec-outer DIR CMD...  runs CMD where the bridge and the nodes' veths are
#   cluster.sh shape DIR NODE rate=RATE | loss=PERCENT | delay=TIME | clear
#                                     NODE's link: a tbf rate limit on both ends of its veth,
#                                     random loss (nftables numgen), delay (netem, where the
#                                     kernel has it)
#   cluster.sh throttle DIR NODE PERCENT|clear
#                                     NODE's processes get PERCENT of one CPU (a CFS quota in a
#                                     cgroup of their own, v2 cpu.max or v1 cpu.cfs_quota_us);
#                                     every later exec on NODE runs in it
#   cluster.sh cpus DIR NODE LIST|clear
#                                     NODE's processes run on these CPUs only (an affinity mask,
#                                     taskset's LIST: 0 or 0-3,6): a node of its own cores, as a
#                                     real node has; every later exec on NODE gets it
#   cluster.sh stall DIR NODE SECONDS drops all of NODE's traffic for SECONDS, then restores it
#   cluster.sh link DIR NODE down|up  NODE's veth down or up
#   cluster.sh addr NODE              NODE's address
#   cluster.sh down DIR               kills the holder: the kernel frees everything (idempotent)
#   cluster.sh leftovers DIR          what of the cluster is still there (empty when nothing)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() {
  echo "cluster: $*" >&2
  exit 2
}
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, veth, nftables)"
cmd="${1:-}"
[ -n "$cmd" ] || die "usage: cluster.sh up|exec|shape|throttle|cpus|stall|link|addr|down|leftovers ..."
shift

elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
addr() { [ "$1" = head ] && echo 10.233.0.254 || echo "10.233.0.$((${1#node} + 1))"; }

# The holder's PID as this machine sees it, checked against the network namespace recorded at
# `up`, so that a reused PID is never entered.
holder_pid() {
  local dir="$1" pid
  [ -f "$dir/holder.pid" ] || return 1
  pid="$(cat "$dir/holder.pid")"
  [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$(cat "$dir/holder.netns")" ] || return 1
  echo "$pid"
}

# in_outer DIR CMD...: CMD in the cluster's outer namespaces (bridge, /run/netns, PID 1 = holder).
in_outer() {
  local dir="$1" pid
  shift
  pid="$(holder_pid "$dir")" || die "no cluster is up in $dir"
  nsenter --target "$pid" --mount --net --pid --wd="$PWD" -- "$@"
}

# node_cgroup DIR NODE: NODE's CPU cgroup (made here), named after the cluster's folder so
# that two clusters never share one: cgroup v2 where it has the cpu controller, else v1's cpu.
node_cgroup() {
  local id cg
  id="$(echo "$1" | md5sum | cut -c1-8)"
  if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu >/sys/fs/cgroup/cgroup.subtree_control
    cg="/sys/fs/cgroup/dtbench-vcluster-$id-$2"
  elif [ -d /sys/fs/cgroup/cpu ]; then
    cg="/sys/fs/cgroup/cpu/dtbench-vcluster-$id-$2"
  else
    die "throttle: no cgroup cpu controller here (neither v2 cpu.max nor v1 cpu)"
  fi
  mkdir -p "$cg"
  echo "$cg"
}

# throttle_quota CGROUP QUOTA_US|max: QUOTA_US of CPU time per 100 ms period.
throttle_quota() {
  if [ -e "$1/cpu.max" ]; then
    echo "$2 100000" >"$1/cpu.max"
  else
    echo 100000 >"$1/cpu.cfs_period_us"
    echo "$([ "$2" = max ] && echo -1 || echo "$2")" >"$1/cpu.cfs_quota_us"
  fi
}

# remove_cgroups DIR: the nodes' cgroups, once their processes are gone (the kernel empties
# them as the processes die; rmdir fails while one is left).
remove_cgroups() {
  local f cg
  for f in "$1"/*/cgroup; do
    [ -f "$f" ] || continue
    cg="$(cat "$f")"
    for _ in $(seq 50); do [ ! -d "$cg" ] || rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
    [ -d "$cg" ] || rm -f "$f"
  done
}

node_name() {
  [[ "$1" =~ ^(head|node[0-9]+)$ ]] || die "'$1' is not a node name (head, node0, node1, ...)"
}

case "$cmd" in
  up)
    dir="$1" n="$2"
    [[ "$n" =~ ^[1-9][0-9]?$ ]] && [ "$n" -le 64 ] || die "up DIR N: N must be 1..64"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    ! holder_pid "$dir" >/dev/null || die "a cluster is already up in $dir"
    remove_cgroups "$dir"
    rm -rf "$dir/ready" "$dir/failed"
    t0=$(date +%s%N)
    # --kill-child: when unshare dies (down, or CTest killing the test), its child - PID 1 of
    # the cluster's PID namespace - dies, and with it every process and namespace of the cluster.
    unshare --mount --net --pid --fork --kill-child --propagation private \
      bash "$here/holder.sh" "$dir" "$n" </dev/null >"$dir/holder.log" 2>&1 &
    unshare_pid=$!
    for _ in $(seq 300); do
      [ -e "$dir/ready" ] || [ -e "$dir/failed" ] || ! kill -0 "$unshare_pid" 2>/dev/null && break
      sleep 0.1
    done
    if [ ! -e "$dir/ready" ]; then
      kill -KILL "$unshare_pid" 2>/dev/null || true
      die "up failed: $(cat "$dir/failed" 2>/dev/null || tail -3 "$dir/holder.log")"
    fi
    child="$(cat "/proc/$unshare_pid/task/$unshare_pid/children")"
    echo "$unshare_pid" >"$dir/unshare.pid"
    echo "${child%% *}" >"$dir/holder.pid"
    readlink "/proc/${child%% *}/ns/net" >"$dir/holder.netns"
    readlink "/proc/${child%% *}/ns/pid" >"$dir/holder.pidns"
    echo "$n" >"$dir/nodes"
    echo "cluster: $n node(s) up in $dir ($(elapsed_ms "$t0") ms)"
    ;;
  exec)
    dir="$1" node="$2"
    shift 2
    node_name "$node"
    [ $# -gt 0 ] || die "exec DIR NODE CMD...: no command"
    in_outer "$dir" env DTBENCH_CLUSTER_DIR="$dir" bash "$here/on-node.sh" "$dir" "$node" "$@"
    ;;
  exec-outer)
    dir="$1"
    shift
    in_outer "$dir" "$@"
    ;;
  shape)
    dir="$1" node="$2" what="$3"
    node_name "$node"
    case "$what" in
      rate=*)
        rate="${what#rate=}"
        in_outer "$dir" tc qdisc replace dev "v$node" root tbf rate "$rate" burst 16kb latency 200ms
        in_outer "$dir" ip netns exec "$node" tc qdisc replace dev eth0 root tbf rate "$rate" burst 16kb latency 200ms
        ;;
      loss=*)
        p="${what#loss=}"
        [[ "$p" =~ ^[0-9]+(\.[0-9])?$ ]] || die "loss=PERCENT: one decimal at most, e.g. loss=1 or loss=0.5"
        per_mille=$(echo "$p * 10 / 1" | bc)
        in_outer "$dir" ip netns exec "$node" nft -f - <<EOF
table inet dtbench_loss
delete table inet dtbench_loss
table inet dtbench_loss {
  chain in { type filter hook input priority 0; numgen random mod 1000 < $per_mille drop; }
  chain out { type filter hook output priority 0; numgen random mod 1000 < $per_mille drop; }
}
EOF
        ;;
      delay=*)
        in_outer "$dir" ip netns exec "$node" tc qdisc replace dev eth0 root netem delay "${what#delay=}"
        ;;
      clear)
        in_outer "$dir" tc qdisc del dev "v$node" root 2>/dev/null || true
        in_outer "$dir" ip netns exec "$node" tc qdisc del dev eth0 root 2>/dev/null || true
        in_outer "$dir" ip netns exec "$node" nft delete table inet dtbench_loss 2>/dev/null || true
        ;;
      *) die "shape DIR NODE rate=RATE | loss=PERCENT | delay=TIME | clear" ;;
    esac
    ;;
  throttle)
    dir="$1" node="$2" what="$3"
    node_name "$node"
    holder_pid "$dir" >/dev/null || die "no cluster is up in $dir"
    if [ "$what" = clear ]; then
      [ -f "$dir/$node/cgroup" ] && throttle_quota "$(cat "$dir/$node/cgroup")" max
      exit 0
    fi
    [[ "$what" =~ ^[1-9][0-9]?$ ]] || die "throttle DIR NODE PERCENT|clear: PERCENT of one CPU, 1..99"
    cg="$(node_cgroup "$dir" "$node")"
    throttle_quota "$cg" "$((what * 1000))"
    echo "$cg" >"$dir/$node/cgroup"
    ;;
  cpus)
    dir="$1" node="$2" what="$3"
    node_name "$node"
    holder_pid "$dir" >/dev/null || die "no cluster is up in $dir"
    if [ "$what" = clear ]; then
      rm -f "$dir/$node/cpus"
      exit 0
    fi
    [[ "$what" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] && taskset -c "$what" true 2>/dev/null ||
      die "cpus DIR NODE LIST|clear: '$what' is not a list of this machine's CPUs (0..$(($(nproc --all) - 1)), e.g. 0 or 0-1,3)"
    echo "$what" >"$dir/$node/cpus"
    ;;
  stall)
    dir="$1" node="$2" seconds="$3"
    node_name "$node"
    in_outer "$dir" ip netns exec "$node" nft -f - <<EOF
table inet dtbench_stall {
  chain in { type filter hook input priority -10; iifname "eth0" drop; }
  chain out { type filter hook output priority -10; oifname "eth0" drop; }
}
EOF
    sleep "$seconds"
    in_outer "$dir" ip netns exec "$node" nft delete table inet dtbench_stall
    ;;
  link)
    dir="$1" node="$2" state="$3"
    node_name "$node"
    [[ "$state" =~ ^(up|down)$ ]] || die "link DIR NODE down|up"
    in_outer "$dir" ip link set "v$node" "$state"
    ;;
  addr)
    node_name "$1"
    addr "$1"
    ;;
  down)
    dir="$1"
    t0=$(date +%s%N)
    if [ -f "$dir/unshare.pid" ] && pid="$(holder_pid "$dir")"; then
      kill -KILL "$(cat "$dir/unshare.pid")" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 100); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
    fi
    remove_cgroups "$dir"
    rm -f "$dir/holder.pid" "$dir/unshare.pid" "$dir/ready"
    echo "cluster: down ($(elapsed_ms "$t0") ms)"
    ;;
  leftovers)
    dir="$1"
    netns="$(cat "$dir/holder.netns" 2>/dev/null || true)"
    pidns="$(cat "$dir/holder.pidns" 2>/dev/null || true)"
    [ -n "$netns" ] || die "leftovers DIR: no cluster was recorded in $dir"
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$netns" ] && echo "process ${p#/proc/} in the cluster's network namespace"
      [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$pidns" ] && echo "process ${p#/proc/} in the cluster's PID namespace"
    done
    grep -F " $dir" /proc/self/mountinfo | sed 's/^/mount: /' || true
    ip -o link show | grep -E ' (vhead|vnode[0-9]+|br0)[@:]' | sed 's/^/link on this machine: /' || true
    for f in "$dir"/*/cgroup; do [ -f "$f" ] && [ -d "$(cat "$f")" ] && echo "cgroup $(cat "$f")"; done
    true
    ;;
  *) die "unknown command '$cmd' (up, exec, shape, throttle, cpus, stall, link, addr, down, leftovers)" ;;
esac
