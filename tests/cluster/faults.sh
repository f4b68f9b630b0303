#!/usr/bin/env bash
# Link faults between the nodes of the virtual cluster (fsdp_llama, 2 nodes x 2 ranks by
# dtbench-launch over the store), each bounded in time:
#   node1's link goes down mid-training: both nodes' launchers exit 3 within --comm-timeout
#   + 10 s (the time is printed), and no rank is left;
#   a 3 s stall of node1 with --comm-timeout 30: the run completes with the losses of an
#   undisturbed run (no false timeout);
#   1 % packet loss on node1: completes with the same losses;
#   the rendezvous host not up when node1 starts: it retries until --comm-timeout, then exits
#   3 with one line naming the address and port it tried.
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
common=(--model tiny --seq 32 --global-batch 8 --lr 1e-3 --warmup-steps 2 --threads 1)

ranks_left() { pgrep -f "fsdp_llama .*$WORK/$1" || true; }

expect_exit 0 "1 process (reference)" -- "$FSDP" "${common[@]}" --steps 8 --out "$WORK/ref.json"

# node1's link goes down.
launch_nodes down "$(free_port)" -- "$FSDP" "${common[@]}" --steps 100000 --log-every 1 --comm-timeout 10 \
  --out "$WORK/down.json"
for _ in $(seq 600); do grep -q "Batch 3 " "$WORK/down.node0.out" 2>/dev/null && break; sleep 0.1; done
bash "$CLUSTER" link "$DTBENCH_CLUSTER_DIR" node1 down
cleanup_hooks+=("bash '$CLUSTER' link '$DTBENCH_CLUSTER_DIR' node1 up")
t0=$(date +%s%N)
wait_launchers 40
took=$((($(date +%s%N) - t0) / 1000000))
bash "$CLUSTER" link "$DTBENCH_CLUSTER_DIR" node1 up
# shellcheck disable=SC2154  # codes: set by wait_launchers (tests/cluster/lib.sh)
echo "    link down: the launchers ended in ${took} ms (exit ${codes[*]}); --comm-timeout 10 s"
if [ "${codes[0]}" -eq 3 ] && [ "${codes[1]}" -eq 3 ] && [ "$took" -le 20000 ] && [ -z "$(ranks_left down.json)" ]; then
  pass "node1's link down mid-training: both nodes exit 3 within --comm-timeout + 10 s, no rank left"
else fail "link down: exits ${codes[*]} after ${took} ms; left: $(ranks_left down.json)"; fi
# Rank 0 ends by its own timeout or by the launcher's SIGTERM after its node's other rank
# timed out first: either way its record names the op that waited.
python3 - "$WORK/down.json" <<'PY' && pass "rank 0's failed record names the op that waited" || fail "link down: record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "failed" and r["exit_code"] == 3 and len(r["steps"]) >= 3, r
assert "comm-timeout" in r["error"] or "op in flight: communicator" in r["error"], r["error"]
print(f"    record: {r['error'][:150]}")
PY

# A 3 s stall, then 1 % loss: both complete with the undisturbed losses.
launch_nodes stall "$(free_port)" -- "$FSDP" "${common[@]}" --steps 8 --log-every 1 --comm-timeout 30 \
  --out "$WORK/stall.json"
for _ in $(seq 600); do grep -q "Batch 2 " "$WORK/stall.node0.out" 2>/dev/null && break; sleep 0.1; done
bash "$CLUSTER" stall "$DTBENCH_CLUSTER_DIR" node1 3
wait_launchers 120
[ "${codes[0]}" -eq 0 ] && [ "${codes[1]}" -eq 0 ] && pass "a 3 s stall with --comm-timeout 30: completes" ||
  fail "stall: exits ${codes[*]}"
compare_losses "$WORK/ref.json" "$WORK/stall.json" "after a 3 s stall"

bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" node1 loss=1
cleanup_hooks+=("bash '$CLUSTER' shape '$DTBENCH_CLUSTER_DIR' node1 clear")
launch_nodes loss "$(free_port)" -- "$FSDP" "${common[@]}" --steps 8 --comm-timeout 60 --out "$WORK/loss.json"
wait_launchers 120
bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" node1 clear
[ "${codes[0]}" -eq 0 ] && [ "${codes[1]}" -eq 0 ] && pass "1 % packet loss on node1: completes" ||
  fail "1 % loss: exits ${codes[*]}"
compare_losses "$WORK/ref.json" "$WORK/loss.json" "under 1 % packet loss"

# Delay needs netem, which not every kernel has: where it is missing, SKIP with the error.
if said=$(bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" node1 delay=5ms 2>&1); then
  launch_nodes delay "$(free_port)" -- "$FSDP" "${common[@]}" --steps 8 --comm-timeout 60 --out "$WORK/delay.json"
  wait_launchers 120
  bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" node1 clear
  [ "${codes[0]}" -eq 0 ] && [ "${codes[1]}" -eq 0 ] && pass "5 ms delay on node1: completes" || fail "delay: exits ${codes[*]}"
  compare_losses "$WORK/ref.json" "$WORK/delay.json" "under 5 ms delay"
else
  echo "SKIP delay=5ms: this kernel has no netem: $said"
fi

# The rendezvous host is not up: node1 alone, nothing listens on node0.
port=$(free_port)
t0=$(date +%s%N)
rc=0
on node1 env DTBENCH_JOB_TOKEN="cluster-test-token-0123456789abcdef" "$DTBENCH_BIN/launch/dtbench-launch" \
  --nproc-per-node 2 --nnodes 2 --node-rank 1 --master-addr node0 --master-port "$port" -- \
  "$FSDP" "${common[@]}" --steps 2 --comm-timeout 5 >"$WORK/norv.out" 2>"$WORK/norv.err" || rc=$?
took=$((($(date +%s%N) - t0) / 1000000))
lines=$(grep -c "cannot reach the TCP store at node0:$port within --comm-timeout" "$WORK/norv.err" || true)
echo "    no rendezvous: exit $rc after ${took} ms; $(grep -m1 "cannot reach" "$WORK/norv.err" | cut -c1-160)"
if [ "$rc" -eq 3 ] && [ "$lines" -ge 1 ] && [ "$took" -ge 5000 ]; then
  pass "the rendezvous host not up: retried until --comm-timeout, exit 3 naming node0:$port"
else fail "no rendezvous: exit $rc after ${took} ms, $lines line(s) naming it"; sed 's/^/    /' "$WORK/norv.err" | tail -n 4; fi
finish
