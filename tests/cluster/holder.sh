#!/usr/bin/env bash
# The virtual cluster's root (tests/cluster/cluster.sh up starts it): PID 1 of the cluster's
# PID namespace, inside its own mount and network namespaces (the "outer" ones), so that when
# it dies the kernel frees every namespace, link, mount and process of the cluster.
#   holder.sh DIR N
# Builds: a bridge br0; namespaces head and node0 .. node<N-1>, each with a network namespace
# (/run/netns/NAME, a veth into br0, 10.233.0.<K+1>/24, head 10.233.0.254), a UTS namespace
# (its hostname) and a time namespace whose CLOCK_MONOTONIC runs (K+1) x 1000 s ahead of the
# machine's (the head's: 0), so that clocks differ between nodes as they do between machines; cluster.sh exec gives each command a mount namespace whose /etc/hosts is
# DIR/NAME/hosts (bind-mounted: written in place, a change shows at once), naming every node.
# (Persisting one mount namespace per node with unshare --mount=FILE failed here now and then
# with EINVAL; a mount namespace per command has the same effect.) The persisted namespace
# files live on tmpfs mounts of this mount namespace only: nothing of the cluster is visible
# from the machine's own namespaces.
# Writes DIR/ready when done (or DIR/failed with the reason), then waits to be killed.
set -euo pipefail
dir="$1"
n="$2"
fail() {
  echo "$*" >"$dir/failed"
  exit 1
}
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR
mount -t proc proc /proc # this PID namespace's processes
# A /run of our own: ip's /run/netns, the persisted namespaces and the services' sockets and
# pid files stay inside the cluster.
mount -t tmpfs tmpfs /run
mkdir -p /run/netns /run/dtbench-cluster
mount --bind /run/dtbench-cluster /run/dtbench-cluster
mount --make-private /run/dtbench-cluster
ip link set lo up
ip link add br0 type bridge
ip link set br0 up

names=(head)
for ((k = 0; k < n; k++)); do names+=("node$k"); done
addr() { [ "$1" = head ] && echo 10.233.0.254 || echo "10.233.0.$((${1#node} + 1))"; }
{
  echo "127.0.0.1 localhost"
  for name in "${names[@]}"; do echo "$(addr "$name") $name"; done
} >"$dir/hosts.all"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$dir/resolv.conf"
for name in "${names[@]}"; do
  mkdir -p "$dir/$name"
  cp "$dir/hosts.all" "$dir/$name/hosts"
  ip netns add "$name"
  ip link add "v$name" type veth peer name eth0 netns "$name"
  ip link set "v$name" master br0 up
  ip -n "$name" link set lo up
  ip -n "$name" addr add "$(addr "$name")/24" dev eth0
  ip -n "$name" link set eth0 up
  touch "/run/dtbench-cluster/$name.uts"
  unshare --uts="/run/dtbench-cluster/$name.uts" hostname "$name"
  touch "/run/dtbench-cluster/$name.time"
  offset=0
  [ "$name" = head ] || offset=$(((${name#node} + 1) * 1000))
  unshare --time="/run/dtbench-cluster/$name.time" --monotonic "$offset" true
done
touch "$dir/ready"
trap - ERR
while :; do sleep 3600; done
