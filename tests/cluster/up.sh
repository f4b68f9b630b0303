#!/usr/bin/env bash
# CTest fixture: the shared virtual cluster of the multi-node tests (2 nodes and a head), and
# the hostfile of its 2 x 2 ranks.
source "$(dirname "$0")/lib.sh"
bash "$CLUSTER" down "$DTBENCH_CLUSTER_DIR" >/dev/null 2>&1 || true
expect_exit 0 "up 2 nodes" -- bash "$CLUSTER" up "$DTBENCH_CLUSTER_DIR" 2
sed 's/^/    /' "$WORK/out"
printf 'node0 slots=2\nnode1 slots=2\n' >"$DTBENCH_CLUSTER_DIR/hostfile"
finish
