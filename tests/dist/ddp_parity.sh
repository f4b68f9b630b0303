#!/usr/bin/env bash
# ddp_train on 2, 3 and 4 ranks against 1 rank: tiny Llama, fp32, 10 steps, the same global
# batch; losses equal to 1e-5 relative at every step. Also --dry-run and bad input.
source "$(dirname "$0")/../lib.sh"
DDP="$DTBENCH_BIN/benchmarks/ddp_train"
common=(--model tiny --seq 32 --global-batch 12 --steps 10 --lr 1e-3 --warmup-steps 2 --threads 1)

expect_exit 0 "1 rank (reference)" -- "$DDP" "${common[@]}" --out "$WORK/r1.json"
for np in 2 3 4; do
  expect_exit 0 "$np ranks" -- "$MPIRUN_LOCAL" "$np" "$DDP" "${common[@]}" --out "$WORK/r$np.json"
  compare_losses "$WORK/r1.json" "$WORK/r$np.json" "$np ranks"
  python3 - "$WORK/r$np.json" "$np" <<'PY' || fail "$np ranks: record"
import json, sys
run, np = json.load(open(sys.argv[1])), int(sys.argv[2])
assert run["launch"]["world_size"] == np and run["flops_convention"] == "causal_half"
m = run["metrics"]
assert m["tokens_per_s"] > 0 and 0 < m["mfu"] < 1 and m["peak_mem_bytes"] > 0, m
assert len(run["per_rank"]) == np
PY
done
# Activation checkpointing on 3 ranks: the same losses (gradient hooks ignore the recompute).
expect_exit 0 "3 ranks, activation checkpointing" -- "$MPIRUN_LOCAL" 3 "$DDP" "${common[@]}" --activation-checkpointing \
  --out "$WORK/ac.json"
compare_losses "$WORK/r1.json" "$WORK/ac.json" "3 ranks + activation checkpointing"
# The MLP of AWS's DDP case: 3 ranks against 1, and it learns.
mlp=(--model mlp --global-batch 24 --micro-batch 2 --steps 10 --lr 1e-3 --threads 1)
expect_exit 0 "mlp, 1 rank" -- "$DDP" "${mlp[@]}" --out "$WORK/m1.json"
expect_exit 0 "mlp, 3 ranks" -- "$MPIRUN_LOCAL" 3 "$DDP" "${mlp[@]}" --out "$WORK/m3.json"
compare_losses "$WORK/m1.json" "$WORK/m3.json" "mlp, 3 ranks"
python3 - "$WORK/m1.json" <<'PY' || fail "mlp: no learning"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["loss_last"] < m["loss_first"], m
PY
python3 - "$WORK/r1.json" <<'PY' || fail "the loss does not go down"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["loss_last"] < m["loss_first"], m
PY

# bf16 autocast with fp32 parameters, gradients and optimizer state.
bf16_against_fp32 "$DDP" ddp --model tiny

expect_exit 0 "--dry-run of a 70B model" -- "$DDP" --model llama2_70b --dry-run
grep -q "parameters     68976648192" "$WORK/out" || fail "--dry-run: $(cat "$WORK/out")"
expect_exit 2 "global batch not a multiple" -- "$MPIRUN_LOCAL" 2 "$DDP" --model tiny --global-batch 3
expect_exit 2 "bad data file" -- "$DDP" --model tiny --data "$WORK/none.bin"
expect_exit 2 "bad model" -- "$DDP" --model tiny --kv-heads 3
expect_exit 2 "mlp with a data file" -- "$DDP" --model mlp --data "$WORK/r1.json"
finish
