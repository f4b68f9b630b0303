#!/usr/bin/env bash
# dtbench-launch across two nodes (one per node, 2 ranks each, --nnodes 2 --node-rank K,
# rendezvous on node0 over the store, the job token shared) and MPI across nodes: fp32 losses
# within 1e-5 relative of one process, and records that name both hosts (and prove, by
# measurement, that the store's TCP connections crossed the nodes). The fsdp run is traced: the
# nodes' CLOCK_MONOTONIC differ by 1000 s (their time namespaces), and dtbench-trace merge
# recovers that within its residual.
#   fsdp_llama 2x2 (launcher), hybrid sharding with its shard groups inside the nodes
#   (--hsdp-shard-size 2), ddp_train 2x2 (launcher), megatron_gpt tp 2 inside a node and pp 2
#   across the nodes (mpirun), and tp 2 with dp across the nodes (mpirun).
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
common=(--model tiny --seq 32 --global-batch 8 --steps 6 --lr 1e-3 --warmup-steps 2 --threads 1 --comm-timeout 60)
ref() {  # ref PROGRAM OUT: one process
  expect_exit 0 "$(basename "$1"), 1 process (reference)" -- "$1" "${common[@]}" --out "$2"
}
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
DDP="$DTBENCH_BIN/benchmarks/ddp_train"
MEG="$DTBENCH_BIN/benchmarks/megatron_gpt"
ref "$FSDP" "$WORK/fsdp1.json"
ref "$DDP" "$WORK/ddp1.json"
ref "$MEG" "$WORK/meg1.json"

across() {  # across NAME PROGRAM ARGS...: launcher on both nodes; checks exits and the record
  local name="$1" k rc bad=""
  shift
  launch_nodes "$name" "$(free_port)" -- "$@" "${common[@]}" --out "$WORK/$name.json"
  for k in 0 1; do
    wait_exit "${launch_pids[$k]}" 240
    [ "$rc" -eq 0 ] || bad+=" node$k exit $rc;"
  done
  if [ -z "$bad" ] && python3 - "$WORK/$name.json" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
assert r["launch"]["nodes"] == 2 and r["launch"]["world_size"] == 4, r["launch"]
assert [(p["rank"], p["host"]) for p in r["per_rank"]] == [(0, "node0"), (1, "node0"), (2, "node1"), (3, "node1")]
PY
    pass "$name: 2 nodes x 2 ranks by dtbench-launch, record names both hosts"
  else
    fail "$name:$bad"
    tail -n 3 "$WORK/$name.node0.err" "$WORK/$name.node1.err"
  fi
}
across fsdp_2x2 "$FSDP" --trace "$WORK/trace2x2"
expect_exit 0 "merge the 2-node trace" -- "$DTBENCH_BIN/tools/dtbench-trace" merge "$WORK/trace2x2"
python3 - "$WORK/trace2x2/trace.merged.json" <<'PY' && pass "trace across nodes: the merge recovers node1's clock 1000 s ahead of node0's within its residual" || fail "trace across nodes: offsets"
import json, sys
t = json.load(open(sys.argv[1]))
m = t["otherData"]
residual = m["residual_s"]
want = {0: 0.0, 1: 0.0, 2: -1000.0, 3: -1000.0}  # rank 0's clock minus the rank's
assert 0 < residual < 0.05, residual
for c in m["clocks"]:
    for k in ("offset_start_s", "offset_end_s"):
        assert abs(c[k] - want[c["rank"]]) <= residual, (c, residual)
names = sorted(e["args"]["name"] for e in t["traceEvents"] if e.get("ph") == "M" and e.get("name") == "process_name")
assert names == ["rank 0 (node0)", "rank 1 (node0)", "rank 2 (node1)", "rank 3 (node1)"], names
print(f"    residual {residual * 1e6:.0f} us; offsets {[(c['rank'], round(c['offset_start_s'], 6)) for c in m['clocks']]}")
PY
python3 "$DTBENCH_SRC/tests/cli/trace_check.py" --cross-rank "$WORK/trace2x2/trace.merged.json" >"$WORK/trace_check.out" &&
  pass "trace across nodes: the merged trace passes the checker" || { fail "merged trace"; cat "$WORK/trace_check.out"; }
proves_network "fsdp_llama by dtbench-launch" "$WORK/fsdp_2x2.json" store "$WORK"/fsdp_2x2.node*.err
compare_losses "$WORK/fsdp1.json" "$WORK/fsdp_2x2.json" "fsdp_llama 2 nodes x 2 ranks"
across fsdp_hsdp "$FSDP" --hsdp-shard-size 2
compare_losses "$WORK/fsdp1.json" "$WORK/fsdp_hsdp.json" "fsdp_llama hybrid, shard groups inside nodes"
across ddp_2x2 "$DDP"
compare_losses "$WORK/ddp1.json" "$WORK/ddp_2x2.json" "ddp_train 2 nodes x 2 ranks"

for layout in "--tp 2 --pp 2" "--tp 2"; do
  name="megatron ${layout}"
  expect_exit 0 "$name, 2 nodes x 2 ranks (mpirun)" -- cluster_mpirun 4 "$MEG" "${common[@]}" $layout \
    --out "$WORK/meg.json"
  compare_losses "$WORK/meg1.json" "$WORK/meg.json" "megatron_gpt $layout across nodes (tp inside a node)"
done
finish
