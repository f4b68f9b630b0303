#!/usr/bin/env bash
# Mixtures of experts against one process (ddp_train on 1 rank, the plain model): tiny_moe
# (8 SwiGLU experts of width 80, top-2, aux loss weight 0.05 so that it moves the weights),
# fp32, 8 steps, the same global batch: losses and load-balancing losses equal to 1e-5
# relative at every step. fsdp_llama at 2, 3 (activation checkpointing) and 4 ranks, with
# expert parallelism ep=2 on 2 ranks, ep=2 x 2 replicas (activation checkpointing) and ep=4;
# megatron_gpt with tp=2, tp=2 with sequence parallelism, pp=2 with activation
# checkpointing, ep=2, ep=4, ep=2 x tp=2 (sp), ep=2 x pp=2. A checkpoint saved under ep=2
# continues on one process.
# The record's MoE figures and the step line's imbalance. Bad MoE input exits 2 with one line
# naming the numbers, before any communication.
source "$(dirname "$0")/../lib.sh"
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
MEG="$DTBENCH_BIN/benchmarks/megatron_gpt"
DDP="$DTBENCH_BIN/benchmarks/ddp_train"
common=(--model tiny_moe --aux-loss-coef 0.05 --seq 24 --global-batch 12 --steps 8 --lr 1e-3 --warmup-steps 2
  --threads 1)

expect_exit 0 "tiny_moe, 1 process (reference)" -- "$DDP" "${common[@]}" --out "$WORK/ref.json"
expect_exit 0 "tiny_moe, 4 layers, 1 process (reference)" -- "$DDP" "${common[@]}" --layers 4 --out "$WORK/ref4.json"
run() {  # run EXE REF NP LABEL FLAGS...
  local exe="$1" ref="$2" np="$3" label="$4"
  shift 4
  expect_exit 0 "$label" -- "$MPIRUN_LOCAL" "$np" "$exe" "${common[@]}" "$@" --out "$WORK/run.json"
  compare_losses "$ref" "$WORK/run.json" "$label"
  compare_losses "$ref" "$WORK/run.json" "$label" --field aux_loss
}
run "$FSDP" "$WORK/ref.json" 2 "fsdp_llama, 2 ranks"
run "$FSDP" "$WORK/ref.json" 3 "fsdp_llama, 3 ranks, activation checkpointing" --activation-checkpointing
run "$FSDP" "$WORK/ref.json" 4 "fsdp_llama, 4 ranks"
grep -q "experts max/mean [0-9.]*$" "$WORK/out" || fail "step line without the imbalance: $(grep Batch "$WORK/out" | tail -1)"
python3 - "$WORK/run.json" <<'PY' || fail "MoE figures in the record"
import json, sys
r = json.load(open(sys.argv[1]))
m = r["metrics"]["moe"]
assert m["experts"] == 8 and m["top_k"] == 2 and m["aux_loss_coef"] == 0.05, m
t = m["tokens_per_expert"]
assert 0 < t["min"] <= t["max"] and t["cv"] >= 0 and m["imbalance"] >= 1, m
for s in r["steps"]:
    e = s["expert_tokens"]
    # 12 sequences x 24 tokens x top-2 over 8 experts: a mean of 72 per expert and layer.
    assert e["min"] <= 72 <= e["max"] and s["aux_loss"] > 0, s
c = r["config"]["model_config"]
assert c["parameters"] > c["active_parameters"] > 0, c
print(f"    record: aux loss {m['aux_loss_first']:.4f} -> {m['aux_loss_last']:.4f}, tokens per expert "
      f"{t['min']:.0f}-{t['max']:.0f} (cv {t['cv']:.2f})")
PY
run "$FSDP" "$WORK/ref.json" 2 "fsdp_llama, ep=2" --ep 2
run "$FSDP" "$WORK/ref.json" 4 "fsdp_llama, ep=2 x 2 replicas, activation checkpointing" --ep 2 \
  --activation-checkpointing
run "$FSDP" "$WORK/ref.json" 4 "fsdp_llama, ep=4" --ep 4
python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["metrics"]["moe"]; assert m["all_to_all_share"] > 0, m' \
  "$WORK/run.json" || fail "ep=4: no all-to-all share in the record"
run "$MEG" "$WORK/ref.json" 2 "megatron_gpt, tp=2" --tp 2
run "$MEG" "$WORK/ref.json" 2 "megatron_gpt, tp=2, sp" --tp 2 --sp
run "$MEG" "$WORK/ref4.json" 2 "megatron_gpt, pp=2, activation checkpointing" --layers 4 --pp 2 \
  --activation-checkpointing
run "$MEG" "$WORK/ref.json" 2 "megatron_gpt, ep=2" --ep 2
run "$MEG" "$WORK/ref.json" 4 "megatron_gpt, ep=4" --ep 4
run "$MEG" "$WORK/ref.json" 4 "megatron_gpt, ep=2 x tp=2, sp" --ep 2 --tp 2 --sp
run "$MEG" "$WORK/ref4.json" 4 "megatron_gpt, ep=2 x pp=2" --layers 4 --ep 2 --pp 2

# A checkpoint written under expert parallelism (each rank its experts, by their global names)
# continues on one process as the saving run went on.
expect_exit 0 "fsdp_llama ep=2, checkpoint every 4 steps" -- "$MPIRUN_LOCAL" 2 "$FSDP" "${common[@]}" --ep 2 \
  --ckpt-dir "$WORK/ck" --ckpt-every 4 --out "$WORK/ep_saved.json"
rm -rf "$WORK/ck/tiny_moe-8steps"
expect_exit 0 "resume the ep=2 checkpoint on one process" -- "$DDP" "${common[@]}" --ckpt-dir "$WORK/ck" --resume \
  --out "$WORK/ep_resumed.json"
grep -q "resume: $WORK/ck/tiny_moe-4steps" "$WORK/out" || fail "did not resume from tiny_moe-4steps: $(grep resume "$WORK/out")"
compare_losses "$WORK/ep_saved.json" "$WORK/ep_resumed.json" "ep=2 checkpoint continued on 1 process" --steps 4 7

expect_exit 2 "--top-k above the experts" -- "$FSDP" --model tiny_moe --top-k 9
grep -q -- "--top-k 9 with 8 experts" "$WORK/err" || fail "message: $(tail -1 "$WORK/err")"
expect_exit 2 "--experts 0" -- "$FSDP" --model tiny_moe --experts 0
grep -q -- "--experts 0: a mixture of experts needs at least 1" "$WORK/err" || fail "message: $(tail -1 "$WORK/err")"
expect_exit 2 "--ep 3 with 8 experts" -- "$MPIRUN_LOCAL" 3 "$FSDP" --model tiny_moe --ep 3
grep -q -- "--ep 3: must divide the 8 experts of tiny_moe" "$WORK/err" || fail "message: $(tail -1 "$WORK/err")"
expect_exit 2 "--ep not dividing the world" -- "$MPIRUN_LOCAL" 3 "$FSDP" --model tiny_moe --ep 2
grep -q -- "--ep 2: must divide the world size 3" "$WORK/err" || fail "message: $(tail -1 "$WORK/err")"
expect_exit 2 "--ep not dividing dp" -- "$MPIRUN_LOCAL" 4 "$MEG" --model tiny_moe --tp 2 --ep 4
grep -q -- "--ep 4: must divide the data-parallel size 2" "$WORK/err" || fail "message: $(tail -1 "$WORK/err")"
expect_exit 2 "--ep on a dense model" -- "$MPIRUN_LOCAL" 2 "$FSDP" --model tiny --ep 2
grep -q -- "--ep 2: expert parallelism needs a mixture of experts; tiny is dense" "$WORK/err" ||
  fail "message: $(tail -1 "$WORK/err")"
expect_exit 0 "--dry-run of mixtral_8x7b" -- "$FSDP" --model mixtral_8x7b --dry-run
grep -q "parameters     46702792704 (46.703 B)" "$WORK/out" && grep -q "active params  12879925248" "$WORK/out" ||
  fail "dry-run: $(cat "$WORK/out")"
# Memory per rank with expert parallelism: experts split over ep, then sharded over their replicas.
expect_exit 0 "planner: mixtral_8x7b, 64 ranks, fsdp, ep=8" -- "$DTBENCH_BIN/tools/planner" --model mixtral_8x7b \
  --dp 64 --ep 8 --fsdp --dtype bf16 --seq 4096 --json
python3 - "$WORK/out" <<'PY' || fail "planner with --ep: $(cat "$WORK/out")"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["active_parameters"] == 12879925248 and p["layout"]["ep"] == 8, p
m = p["memory_per_rank_bytes"]
# fp32 master + grads + AdamW state: 16 bytes per parameter, over 64 ranks, plus bf16 copies.
assert 16 * 46702792704 / 64 <= m["params"] + m["grads"] + m["optimizer"] < 16 * 46702792704 / 64 * 1.2, m
print(f"    mixtral_8x7b on 64 ranks, ep 8: {m['total'] / 2**30:.1f} GiB per rank")
PY
finish
