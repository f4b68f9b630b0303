#!/usr/bin/env bash
# Straggler attribution's hit rates on the virtual cluster (root): brings up a 2-node cluster
# of its own and runs tests/cluster/stragglers.sh with RUNS runs of each case (default 10):
# unperturbed (nobody may be named), node1 throttled to 20 % of a CPU (node1, compute), node1's
# link at 16 Mbit/s (node1, network). Prints each run and the hit rates; the cluster is torn
# down on exit.
#   scripts/straggler_hit_rate.sh [RUNS]      (after scripts/setup.sh and a build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export DTBENCH_SRC="$root" DTBENCH_BIN="${DTBENCH_BIN:-$root/build}" RUNS="${1:-10}"
dir="$(mktemp -d /tmp/dtbench-hitrate.XXXXXX)"
export DTBENCH_CLUSTER_DIR="$dir/vcluster"
trap 'bash "$root/tests/cluster/cluster.sh" down "$DTBENCH_CLUSTER_DIR" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
bash "$root/tests/cluster/cluster.sh" up "$DTBENCH_CLUSTER_DIR" 2
printf 'node0 slots=2\nnode1 slots=2\n' >"$DTBENCH_CLUSTER_DIR/hostfile"
bash "$root/tests/cluster/stragglers.sh"
