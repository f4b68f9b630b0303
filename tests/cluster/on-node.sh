#!/usr/bin/env bash
# Runs a command on a node of the virtual cluster, from inside the cluster (its outer
# namespaces: cluster.sh exec and the MPI agent call it there): the node's network, UTS and time
# namespaces by their files, and a mount namespace of its own whose /etc/hosts is the node's.
#   on-node.sh DIR NODE CMD...
set -euo pipefail
dir="$1" node="$2"
shift 2
[[ "$node" =~ ^(head|node[0-9]+)$ ]] && [ -e "/run/netns/$node" ] || {
  echo "cluster: no node '$node' in this cluster (nodes: $(cd /run/netns 2>/dev/null && echo *))" >&2
  exit 2
}
# A throttled node (cluster.sh throttle): its processes run in its CPU cgroup.
if [ -f "$dir/$node/cgroup" ]; then echo $$ >"$(cat "$dir/$node/cgroup")/cgroup.procs"; fi
# A node with CPUs of its own (cluster.sh cpus): its processes' affinity mask.
pin=()
if [ -f "$dir/$node/cpus" ]; then pin=(taskset -c "$(cat "$dir/$node/cpus")"); fi
# resolv.conf: no name server but loopback's (none listens), so a name the hosts file lacks
# fails at once instead of waiting for a DNS server this network cannot reach.
exec nsenter --net="/run/netns/$node" --uts="/run/dtbench-cluster/$node.uts" --time="/run/dtbench-cluster/$node.time" -- \
  unshare --mount --propagation private -- \
  bash -c 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"' - \
  "$dir/$node/hosts" "$dir/resolv.conf" "${pin[@]}" "$@"
