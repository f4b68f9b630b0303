#!/usr/bin/env bash
# Bad input across nodes: exit 2 before the first data-path operation, one line naming the
# cause (every rank that prints it prints the same line):
#   a hostfile naming a node that does not exist: launch/mpirun-hosts' message, before mpirun;
#   a MASTER_ADDR that does not resolve: each rank retries for --comm-timeout, then exit 2;
#   two nodes given the same node rank: exit 2 at rendezvous on both nodes, naming both hosts.
# (A node count that differs between dtbench-launch and Slurm is in slurm.sh, where Slurm runs.)
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
train=(--model tiny --seq 32 --global-batch 8 --steps 4 --threads 1)

# one_cause WHAT PATTERN FILE...: the error lines of the files (a program's "NAME: error: ..."
# or mpirun-hosts' line; launcher prefixes dropped) are one distinct line matching PATTERN.
one_cause() {
  local what="$1" pattern="$2" lines
  shift 2
  lines="$(sed -E 's/^\[[0-9]+\] //' "$@" | grep -E '^[a-z_]+: error: |^mpirun-hosts: ' | sort -u)"
  if [ "$(printf '%s\n' "$lines" | grep -c .)" -eq 1 ] && grep -qE -- "$pattern" <<<"$lines"; then
    pass "$what: one line: $lines"
  else
    fail "$what: want one line matching '$pattern', got:"
    sed 's/^/    /' "$@" | head -8
  fi
}

printf 'node0 slots=2\n# the second node\nnode7 slots=2\n' >"$WORK/hosts"
expect_exit 2 "hostfile naming node7, which does not exist" -- cluster_mpirun "$WORK/hosts" 4 \
  "$DTBENCH_BIN/benchmarks/collectives_perf" --op all_reduce -b 8 -e 8 -n 1 -w 1
one_cause "unknown node" "^mpirun-hosts: .*/hosts line 3: host 'node7' does not resolve here" "$WORK/err"

launch_nodes noname "$(free_port)" --master-addr nosuchnode -- "$FSDP" "${train[@]}" --comm-timeout 3
wait_launchers 60
# shellcheck disable=SC2154  # codes: set by wait_launchers (tests/cluster/lib.sh)
[ "${codes[*]}" = "2 2" ] && pass "MASTER_ADDR nosuchnode: both nodes exit 2" || fail "MASTER_ADDR nosuchnode: exits ${codes[*]}"
one_cause "MASTER_ADDR nosuchnode" "MASTER_ADDR nosuchnode did not resolve within --comm-timeout \(3 s\)" \
  "$WORK/noname.node0.err" "$WORK/noname.node1.err"

# Both launchers told --node-rank 0: ranks 0 and 1 are claimed on both nodes; node1's rank 0
# finds that node0 is not its address and joins as a client, so the store names both hosts.
port="$(free_port)"
launch_pids=()
for k in 0 1; do
  on "node$k" env DTBENCH_JOB_TOKEN="cluster-test-token-0123456789abcdef" "$DTBENCH_BIN/launch/dtbench-launch" \
    --nproc-per-node 2 --nnodes 2 --node-rank 0 --master-addr node0 --master-port "$port" -- \
    "$FSDP" "${train[@]}" --comm-timeout 30 >"$WORK/twice.node$k.out" 2>"$WORK/twice.node$k.err" &
  launch_pids+=($!)
  cleanup_hooks+=("kill -KILL $! 2>/dev/null")
done
wait_launchers 60
[ "${codes[*]}" = "2 2" ] && pass "two nodes with node rank 0: both exit 2" || fail "two nodes with node rank 0: exits ${codes[*]}"
one_cause "two nodes with node rank 0" "rank [01] is claimed twice, by node[01] \(pid [0-9]+\) and by node[01] \(pid" \
  "$WORK/twice.node0.err" "$WORK/twice.node1.err"
lines="$(cat "$WORK/twice.node0.err" "$WORK/twice.node1.err")"
grep -q "by node0 (pid" <<<"$lines" && grep -q "by node1 (pid" <<<"$lines" && pass "the line names node0 and node1" ||
  fail "the line does not name both hosts"
finish
