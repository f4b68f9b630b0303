#!/usr/bin/env bash
# A cluster test killed mid-run as CTest kills one that times out (SIGKILL to its process
# group, no trap runs) leaves nothing: its own cluster of 2 nodes, with 2 ranks training on
# each, is killed, and no process of its namespaces, no mount and no link remains.
source "$(dirname "$0")/lib.sh"
dir="$WORK/own-cluster"
# The victim: brings up a cluster and starts a training job on it, in its own process group.
setsid bash -c '
  set -e
  bash "$1" up "$2" 2 >/dev/null
  for k in 0 1; do
    bash "$1" exec "$2" node$k env DTBENCH_JOB_TOKEN=kill-test-token-0123456789abcdef "$3/launch/dtbench-launch" \
      --nproc-per-node 2 --nnodes 2 --node-rank $k --master-addr node0 --master-port 29500 -- \
      "$3/benchmarks/fsdp_llama" --model tiny --steps 100000 --threads 1 --log-every 1 >"$2/node$k.out" 2>&1 &
  done
  wait' - "$CLUSTER" "$dir" "$DTBENCH_BIN" &
victim=$!
for _ in $(seq 600); do grep -q "Batch 2 " "$dir/node0.out" 2>/dev/null && break; sleep 0.1; done
grep -q "Batch 2 " "$dir/node0.out" 2>/dev/null && pass "the victim trains on its own 2-node cluster" || fail "victim did not start"
kill -KILL -- "-$victim"
wait "$victim" 2>/dev/null || true
t0=$(date +%s%N)
left="x"
for _ in $(seq 100); do
  left="$(bash "$CLUSTER" leftovers "$dir" 2>&1)"
  [ -z "$left" ] && break
  sleep 0.1
done
echo "    gone $((($(date +%s%N) - t0) / 1000000)) ms after SIGKILL"
[ -z "$left" ] && pass "after SIGKILL of the test's process group nothing of its cluster is left" || fail "left: $left"
finish
