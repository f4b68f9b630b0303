#!/usr/bin/env bash
# The predictor against measured runs on this machine (CPU, fp32, the MPI backend under
# mpirun, 2-4 ranks): a profile is calibrated on two model shapes and eight layouts, then every
# validation run (another shape, other layouts, disjoint) is trained with --hw-profile, so its
# record holds the prediction beside the measurement. Prints one row per run and the median
# and worst absolute error of the step time. Not a test: the figures go in the README.
#   benchmarks/planner/validate_cpu.sh [OUT_DIR]
# shellcheck source=benchmarks/peers/peer_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/../peers/peer_env.sh"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
# shellcheck disable=SC2154  # root and bin come from peer_env.sh
mpirun_local="$root/launch/mpirun-local" planner="$bin/tools/planner"
steps=(--steps 8 --log-every 1000)

echo "# calibration: collectives_perf (all_reduce, all_gather, reduce_scatter, send_recv at 2 and 4 ranks)," \
  "env_check --sweep, and eight training runs of small (hidden 256, seq 256; hidden 512, seq 96)"
cal=()
for np in 2 4; do
  for op in all_reduce all_gather reduce_scatter send_recv; do
    [ "$op" = send_recv ] && [ "$np" != 2 ] && continue
    "$mpirun_local" "$np" "$bin/benchmarks/collectives_perf" --op "$op" -b 1K -e 16M -f 4 -n 10 \
      --out "$out/cal_${op}_$np.json" >/dev/null
    cal+=("$out/cal_${op}_$np.json")
  done
done
"$bin/benchmarks/env_check" --sweep --sweep-seconds 2 --out "$out/cal_env.json" >/dev/null || true
cal+=("$out/cal_env.json")
A=(--model small --global-batch 8 "${steps[@]}")
calrun() {  # calrun NAME NP EXE FLAGS...
  local name="$1" np="$2" exe="$3"
  shift 3
  "$mpirun_local" "$np" "$bin/benchmarks/$exe" "${A[@]}" "$@" --out "$out/cal_$name.json" >/dev/null
  cal+=("$out/cal_$name.json")
}
calrun ddp_2 2 ddp_train
calrun fsdp_2 2 fsdp_llama --activation-checkpointing=false
calrun fsdp_4 4 fsdp_llama --activation-checkpointing=false
calrun tp_2 2 megatron_gpt --tp 2
calrun pp_2 2 megatron_gpt --pp 2
calrun pp_2_dp_2 4 megatron_gpt --pp 2
# The second shape: wider and shorter, so that FLOPs and activation bytes vary apart.
A=(--model small --hidden 512 --ffn 1408 --seq 96 --global-batch 8 "${steps[@]}")
calrun wide_ddp_2 2 ddp_train
calrun wide_tp_2_dp_2 4 megatron_gpt --tp 2
"$planner" --calibrate --name this-cpu --out "$out/profile.json" "${cal[@]}"

echo "# validation: small with hidden 384, ffn 1024, seq 192, each layout trained with --hw-profile"
B=(--model small --hidden 384 --ffn 1024 --seq 192 "${steps[@]}" --hw-profile "$out/profile.json")
run() {  # run NAME NP EXE FLAGS...
  local name="$1" np="$2" exe="$3"
  shift 3
  "$mpirun_local" "$np" "$bin/benchmarks/$exe" "${B[@]}" "$@" --out "$out/val_$name.json" >/dev/null
}
run ddp_2 2 ddp_train --global-batch 4
run ddp_4 4 ddp_train --global-batch 8
run fsdp_2 2 fsdp_llama --global-batch 4 --activation-checkpointing=false
run fsdp_4 4 fsdp_llama --global-batch 4 --activation-checkpointing=false
run fsdp_3_ac 3 fsdp_llama --global-batch 6 --activation-checkpointing
run hsdp_2x2 4 fsdp_llama --global-batch 4 --hsdp-shard-size 2 --activation-checkpointing=false
run tp_2 2 megatron_gpt --tp 2 --global-batch 4
run tp_2_sp 2 megatron_gpt --tp 2 --sp --global-batch 4
run tp_2_dp_2 4 megatron_gpt --tp 2 --global-batch 4
run pp_2 2 megatron_gpt --pp 2 --global-batch 4
run pp_2_vp_2 2 megatron_gpt --pp 2 --vp 2 --global-batch 4
run pp_4 4 megatron_gpt --pp 4 --global-batch 8
run tp_2_pp_2 4 megatron_gpt --tp 2 --pp 2 --global-batch 4

python3 "$root/benchmarks/planner/error_table.py" "$out"
