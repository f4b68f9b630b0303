#!/usr/bin/env bash
# The predictor between nodes: a virtual cluster of its own (tests/cluster: 2 nodes in network
# namespaces on this machine, links shaped to 1 Gbit/s, the MPI backend over them) is
# calibrated from its own records (collectives_perf inside a node and between the two at 1
# and 2 ranks a node, env_check --sweep, six training runs of two shapes; each node has half of
# this machine's CPUs to itself, as a real node has its own: cluster.sh cpus), then seven layouts
# of another shape run across both nodes with --hw-profile. Prints one row per run and the
# median and worst absolute error of the step time. The layouts run --rounds times, one after
# another in turn (default 3), and each is measured by the median of its rounds, with their
# range beside it: this machine's step times of one layout differ by up to 1.6x between runs
# minutes apart. Not a test: the figures go in the README. Everything the cluster made is
# gone afterwards.
#   benchmarks/planner/validate_cluster.sh [--rounds N] [OUT_DIR]
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
export DTBENCH_SRC="$root" DTBENCH_BIN="$root/$DTBENCH_BUILD_DIR"
# shellcheck source=tests/cluster/lib.sh
source "$root/tests/cluster/lib.sh"
rounds=3
if [ "${1:-}" = --rounds ]; then
  rounds="${2:-}"
  shift 2 || true
fi
[[ "$rounds" =~ ^[1-9][0-9]?$ ]] || { echo "validate_cluster.sh: --rounds takes 1 to 99, got '$rounds'" >&2; exit 2; }
out="${1:-$WORK/out}"
mkdir -p "$out"
DTBENCH_CLUSTER_DIR="$WORK/vc"
export DTBENCH_CLUSTER_DIR
cleanup_hooks+=("bash '$CLUSTER' down '$DTBENCH_CLUSTER_DIR' >/dev/null")
bash "$CLUSTER" up "$DTBENCH_CLUSTER_DIR" 2 >/dev/null
for k in 0 1; do bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" "node$k" rate=1gbit; done
half=$(($(nproc) / 2))
[ "$half" -ge 1 ] || { echo "validate_cluster.sh: needs 2 CPUs at least (one per node)" >&2; exit 2; }
bash "$CLUSTER" cpus "$DTBENCH_CLUSTER_DIR" node0 "$(seq -s, 0 $((half - 1)))"
bash "$CLUSTER" cpus "$DTBENCH_CLUSTER_DIR" node1 "$(seq -s, "$half" $((2 * half - 1)))"
hosts_1x2="$WORK/hosts_1x2" hosts_2x1="$WORK/hosts_2x1" hosts_2x2="$WORK/hosts_2x2"
echo "node0 slots=2" >"$hosts_1x2"
printf 'node%d slots=1\n' 0 1 >"$hosts_2x1"
printf 'node%d slots=2\n' 0 1 >"$hosts_2x2"
B="$DTBENCH_BIN/benchmarks"
run_on() {  # run_on HOSTFILE NP RECORD PROGRAM ARGS...
  local hosts="$1" np="$2" record="$3"
  shift 3
  MPIRUN_EXTRA="--mca mpi_yield_when_idle 1" cluster_mpirun "$hosts" "$np" "$@" --out "$record" >"$record.log" 2>&1 ||
    { echo "failed: $* (see $record.log)" >&2; exit 1; }
}

echo "# calibration: collectives_perf on 1 node x 2, 2 nodes x 1 and 2 x 2; env_check --sweep; six training runs of small at two shapes"
cal=()
for layout in 1x2:2 2x1:2 2x2:4; do
  hosts="$WORK/hosts_${layout%%:*}" np="${layout##*:}"
  for op in all_reduce all_gather reduce_scatter send_recv; do
    [ "$op" = send_recv ] && [ "$np" != 2 ] && continue
    run_on "$hosts" "$np" "$out/cal_${op}_${layout%%:*}.json" "$B/collectives_perf" --op "$op" -b 1K -e 16M -f 4 -n 10
    cal+=("$out/cal_${op}_${layout%%:*}.json")
  done
done
on node0 "$B/env_check" --sweep --sweep-seconds 2 --out "$out/cal_env.json" >/dev/null || true
cal+=("$out/cal_env.json")
A=(--model small --global-batch 8 --steps 8 --log-every 1000)
run_on "$hosts_1x2" 2 "$out/cal_ddp_1x2.json" "$B/ddp_train" "${A[@]}"
run_on "$hosts_2x1" 2 "$out/cal_ddp_2x1.json" "$B/ddp_train" "${A[@]}"
run_on "$hosts_2x2" 4 "$out/cal_fsdp_2x2.json" "$B/fsdp_llama" "${A[@]}" --activation-checkpointing=false
run_on "$hosts_2x2" 4 "$out/cal_tp_2x2.json" "$B/megatron_gpt" "${A[@]}" --tp 2
# The second shape: wider and shorter, so that FLOPs and activation bytes vary apart.
A=(--model small --hidden 512 --ffn 1408 --seq 96 --global-batch 8 --steps 8 --log-every 1000)
run_on "$hosts_1x2" 2 "$out/cal_wide_tp_1x2.json" "$B/megatron_gpt" "${A[@]}" --tp 2
run_on "$hosts_2x2" 4 "$out/cal_wide_ddp_2x2.json" "$B/ddp_train" "${A[@]}"
cal+=("$out"/cal_ddp_1x2.json "$out"/cal_ddp_2x1.json "$out"/cal_fsdp_2x2.json "$out"/cal_tp_2x2.json
  "$out"/cal_wide_tp_1x2.json "$out"/cal_wide_ddp_2x2.json)
"$DTBENCH_BIN/tools/planner" --calibrate --name vcluster-1gbit --out "$out/profile.json" "${cal[@]}"

echo "# validation: small with hidden 384, ffn 1024, seq 192 across both nodes, each with --hw-profile, $rounds rounds"
V=(--model small --hidden 384 --ffn 1024 --seq 192 --steps 8 --log-every 1000 --hw-profile "$out/profile.json")
for k in $(seq "$rounds"); do
  run_on "$hosts_2x1" 2 "$out/val_ddp_2x1.r$k.json" "$B/ddp_train" "${V[@]}" --global-batch 4
  run_on "$hosts_2x2" 4 "$out/val_ddp_2x2.r$k.json" "$B/ddp_train" "${V[@]}" --global-batch 8
  run_on "$hosts_2x1" 2 "$out/val_fsdp_2x1.r$k.json" "$B/fsdp_llama" "${V[@]}" --global-batch 4 --activation-checkpointing=false
  run_on "$hosts_2x2" 4 "$out/val_fsdp_2x2_ac.r$k.json" "$B/fsdp_llama" "${V[@]}" --global-batch 4
  run_on "$hosts_2x2" 4 "$out/val_hsdp_2x2.r$k.json" "$B/fsdp_llama" "${V[@]}" --global-batch 4 --hsdp-shard-size 2 \
    --activation-checkpointing=false
  run_on "$hosts_2x2" 4 "$out/val_tp_2_dp_2.r$k.json" "$B/megatron_gpt" "${V[@]}" --tp 2 --global-batch 4
  run_on "$hosts_2x1" 2 "$out/val_pp_2.r$k.json" "$B/megatron_gpt" "${V[@]}" --pp 2 --global-batch 4
done

python3 "$root/benchmarks/planner/error_table.py" "$out" --inter-node
finish >/dev/null
