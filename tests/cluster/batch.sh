#!/usr/bin/env bash
# The AWS Batch launch contract of aws-batch/fsdp_llama.json with each Batch node a node of the
# virtual cluster: the container's command (its Ref:: parameters given CPU values) runs on node0,
# the main node, where Batch sets no AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS (dtbench-launch
# finds its own address), and on node1, where it names node0's; with the variables Batch sets
# (AWS_BATCH_JOB_NODE_INDEX, _NUM_NODES, _MAIN_NODE_INDEX, _ID). Training completes on 2 nodes x 2
# ranks, each launcher says it took its place from aws-batch, and the record names both hosts.
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/env.sh
source "$DTBENCH_SRC/scripts/env.sh"
mapfile -t argv < <("$DTBENCH_VENV/bin/python" - "$DTBENCH_SRC/aws-batch/fsdp_llama.json" "$WORK/run" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
params = dict(d["parameters"], model="tiny", steps="6", global_batch="8", device="cpu", comm_timeout="60",
              run_dir=sys.argv[2], out=sys.argv[2] + "/result.json")
for a in d["nodeProperties"]["nodeRangeProperties"][0]["container"]["command"]:
    print(re.sub(r"Ref::(\w+)", lambda m: params[m.group(1)], a))
PY
)
port="$(free_port)"
main_addr="$(bash "$CLUSTER" addr node0)"
launch_pids=()
for k in 0 1; do
  vars=(AWS_BATCH_JOB_ID="dtbench-test#$k" AWS_BATCH_JOB_NODE_INDEX="$k" AWS_BATCH_JOB_NUM_NODES=2
    AWS_BATCH_JOB_MAIN_NODE_INDEX=0 NPROC_PER_NODE=2 MASTER_PORT="$port"
    DTBENCH_JOB_TOKEN="cluster-test-token-0123456789abcdef" PATH="$DTBENCH_BIN/launch:$DTBENCH_BIN/benchmarks:$PATH")
  [ "$k" -eq 1 ] && vars+=(AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS="$main_addr")
  on "node$k" env "${vars[@]}" "${argv[@]}" --threads 1 >"$WORK/node$k.out" 2>"$WORK/node$k.err" &
  launch_pids+=($!)
  cleanup_hooks+=("kill -KILL $! 2>/dev/null")
done
wait_launchers 120
# shellcheck disable=SC2154  # codes: set by wait_launchers (tests/cluster/lib.sh)
[ "${codes[*]}" = "0 0" ] && pass "fsdp_llama.json's command on node0 (main) and node1: both exit 0" ||
  { fail "exits ${codes[*]}"; tail -n 3 "$WORK/node0.err" "$WORK/node1.err"; }
for k in 0 1; do
  line="$(grep -m1 '^\[dtbench-launch\] node' "$WORK/node$k.err" || true)"
  [[ "$line" == "[dtbench-launch] node $k of 2 (aws-batch): ranks $((2 * k))-$((2 * k + 1)) of 4, master $main_addr:$port" ]] &&
    pass "node$k: $line" || fail "node$k's launcher line: '$line'"
done
python3 - "$WORK/run/result.json" <<'PY' && pass "the record names node0 (ranks 0, 1) and node1 (ranks 2, 3)" || fail "record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "ok" and r["launch"]["nodes"] == 2 and r["launch"]["world_size"] == 4, r["launch"]
assert [(p["rank"], p["host"]) for p in r["per_rank"]] == [(0, "node0"), (1, "node0"), (2, "node1"), (3, "node1")]
PY
finish
