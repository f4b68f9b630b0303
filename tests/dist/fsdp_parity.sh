#!/usr/bin/env bash
# fsdp_llama against one process: tiny Llama, fp32, 10 steps, the same global batch, losses
# equal to 1e-5 relative at every step. Options covered pairwise: reshard-after-forward x
# activation checkpointing x world size, prefetch off, hybrid sharding 2x2. FSDP on one
# rank equals the unwrapped model (ddp_train on one rank). A sharded checkpoint saved on 4
# ranks continues on 2 as it does on 4.
source "$(dirname "$0")/../lib.sh"
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
common=(--model tiny --seq 32 --global-batch 12 --steps 10 --lr 1e-3 --warmup-steps 2 --threads 1)

expect_exit 0 "1 rank (reference)" -- "$FSDP" "${common[@]}" --out "$WORK/r1.json"
expect_exit 0 "the unwrapped model, 1 rank" -- "$DTBENCH_BIN/benchmarks/ddp_train" "${common[@]}" --out "$WORK/plain.json"
compare_losses "$WORK/r1.json" "$WORK/plain.json" "FSDP on 1 rank vs the unwrapped model"

run() {  # run NP LABEL FLAGS...
  local np="$1" label="$2"; shift 2
  expect_exit 0 "$label" -- "$MPIRUN_LOCAL" "$np" "$FSDP" "${common[@]}" "$@" --out "$WORK/run.json"
  compare_losses "$WORK/r1.json" "$WORK/run.json" "$label"
}
run 2 "2 ranks, reshard on, checkpointing off" --reshard-after-forward --activation-checkpointing=false
run 3 "3 ranks, reshard off, checkpointing on" --reshard-after-forward=false --activation-checkpointing
run 4 "4 ranks, reshard on, checkpointing on" --reshard-after-forward --activation-checkpointing
run 3 "3 ranks, no prefetch, checkpointing off" --prefetch=false --activation-checkpointing=false
run 4 "4 ranks, hybrid 2x2" --hsdp-shard-size 2
python3 - "$WORK/run.json" <<'PY' || fail "record of the hybrid run"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["config"]["strategy"]
assert s["name"] == "fsdp" and s["hsdp_shard_size"] == 2, s
assert r["launch"]["world_size"] == 4 and len(r["per_rank"]) == 4
m = r["metrics"]
assert m["loss_last"] < m["loss_first"] and m["tokens_per_s"] > 0 and m["peak_mem_bytes"] > 0, m
PY

# Sharded checkpoint: saved at step 5 by 4 ranks; steps 6-10 on 2 ranks as on 4.
expect_exit 0 "4 ranks, checkpoint every 5 steps" -- "$MPIRUN_LOCAL" 4 "$FSDP" "${common[@]}" \
  --ckpt-dir "$WORK/ck" --ckpt-every 5 --out "$WORK/four.json"
rm -rf "$WORK/ck/tiny-10steps"
expect_exit 0 "resume the 4-rank checkpoint on 2 ranks" -- "$MPIRUN_LOCAL" 2 "$FSDP" "${common[@]}" \
  --ckpt-dir "$WORK/ck" --resume --out "$WORK/two.json"
grep -q "resume: $WORK/ck/tiny-5steps" "$WORK/out" || fail "did not resume from tiny-5steps: $(grep resume "$WORK/out")"
compare_losses "$WORK/four.json" "$WORK/two.json" "4-rank checkpoint continued on 2 ranks" --steps 5 9
expect_exit 0 "and again on 2 ranks, bitwise" -- "$MPIRUN_LOCAL" 2 "$FSDP" "${common[@]}" \
  --ckpt-dir "$WORK/ck" --resume --out "$WORK/two_again.json"
compare_losses "$WORK/two.json" "$WORK/two_again.json" "the same resume twice" --steps 5 9 --rtol 0

# Mixed precision (bf16 compute, fp32 master shards and reductions) on real text.
bf16_against_fp32 "$FSDP" fsdp --model tiny
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["config"]["strategy"]["compute_dtype"] == "bf16"' \
  "$WORK/fsdp-16.json" || fail "fsdp bf16: the strategy does not record compute_dtype bf16"
expect_exit 2 "hybrid shard size that does not divide" -- "$MPIRUN_LOCAL" 3 "$FSDP" --model tiny --hsdp-shard-size 2
expect_exit 2 "fsdp_llama --model mlp" -- "$FSDP" --model mlp
expect_exit 0 "--dry-run of llama3_1_70b" -- "$FSDP" --model llama3_1_70b --dry-run
finish
