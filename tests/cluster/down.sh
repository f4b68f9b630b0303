#!/usr/bin/env bash
# CTest fixture cleanup: the shared cluster goes, and nothing of it is left on this machine
# (no process in its namespaces, no mount, no link).
source "$(dirname "$0")/lib.sh"
expect_exit 0 "down" -- bash "$CLUSTER" down "$DTBENCH_CLUSTER_DIR"
sed 's/^/    /' "$WORK/out"
left="$(bash "$CLUSTER" leftovers "$DTBENCH_CLUSTER_DIR" 2>&1)"
[ -z "$left" ] && pass "nothing of the cluster is left" || fail "left: $left"
finish
