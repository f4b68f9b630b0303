#!/usr/bin/env bash
# megatron_gpt against one process (ddp_train on 1 rank, the plain model): fp32, 10 steps,
# the same global batch, losses equal to 1e-5 relative at every step. tiny Llama: tp=2;
# tp=2 with sequence parallelism; tp=2 x dp=2 on 4 ranks; dp=3; a vocabulary (255) that tp=2
# pads. tiny GPT (tied embeddings, biases, learned positions, LayerNorm): tp=2, tp=2 with sp.
# Pipelines (4 layers): pp=2 (1F1B, 4 micro-batches), pp=3 on 3 ranks (layers 2,1,1),
# tp=2 x pp=2 on 4 ranks, pp=2 x dp=2 with sp off, tiny GPT pp=2 (the tied embedding split
# between the first and last stage), interleaved pp=2 x vp=2 (tiny and tiny GPT). The
# distributed optimizer (AdamW state sharded over
# dp): tp=2 x dp=2, and dp=3. Bad layouts exit 2 with one line before any
# communication. Checkpoints saved by tp=2 x pp=2, by tp=2 x dp=2 with the distributed
# optimizer and by fsdp_llama continue on other layouts and strategies as the saving run did.
source "$(dirname "$0")/../lib.sh"
MEG="$DTBENCH_BIN/benchmarks/megatron_gpt"
DDP="$DTBENCH_BIN/benchmarks/ddp_train"
common=(--seq 32 --global-batch 12 --steps 10 --lr 1e-3 --warmup-steps 2 --threads 1)
run() {  # run MODEL REF NP LABEL FLAGS...
  local model="$1" ref="$2" np="$3" label="$4"
  shift 4
  expect_exit 0 "$label" -- "$MPIRUN_LOCAL" "$np" "$MEG" --model "$model" "${common[@]}" "$@" --out "$WORK/run.json"
  compare_losses "$ref" "$WORK/run.json" "$label"
}

for model in tiny tiny_gpt; do
  expect_exit 0 "$model, 1 process (reference)" -- "$DDP" --model "$model" "${common[@]}" --out "$WORK/$model.json"
done
run tiny "$WORK/tiny.json" 2 "tiny, tp=2" --tp 2
run tiny "$WORK/tiny.json" 2 "tiny, tp=2, sp" --tp 2 --sp
run tiny "$WORK/tiny.json" 4 "tiny, tp=2 x dp=2" --tp 2
grep -q "iteration       10/      10 | consumed samples:          120 |" "$WORK/out" \
  || fail "iteration line: $(grep iteration "$WORK/out" | tail -1)"
run tiny "$WORK/tiny.json" 3 "tiny, dp=3" --tp 1
run tiny_gpt "$WORK/tiny_gpt.json" 2 "tiny_gpt, tp=2" --tp 2
run tiny_gpt "$WORK/tiny_gpt.json" 4 "tiny_gpt, tp=2 x dp=2, sp" --tp 2 --sp
expect_exit 0 "tiny, vocab 255, 1 process" -- "$DDP" --model tiny --vocab 255 "${common[@]}" --out "$WORK/v255.json"
run tiny "$WORK/v255.json" 2 "tiny, vocab 255 padded to 256 by tp=2" --tp 2 --vocab 255

for model in tiny tiny_gpt; do
  expect_exit 0 "$model, 4 layers, 1 process (reference)" -- "$DDP" --model "$model" --layers 4 "${common[@]}" \
    --global-batch 4 --out "$WORK/${model}4.json"
  expect_exit 0 "$model, 4 layers, batch 12, 1 process (reference)" -- "$DDP" --model "$model" --layers 4 \
    "${common[@]}" --out "$WORK/${model}4b.json"
done
run tiny "$WORK/tiny4.json" 2 "tiny, pp=2, 4 micro-batches" --layers 4 --pp 2 --global-batch 4
grep -q '"pipeline_bubble_measured"' "$WORK/run.json" || fail "no bubble figure in the record"
run tiny "$WORK/tiny4b.json" 3 "tiny, pp=3, layers 2,1,1" --layers 4 --pp 3 --pp-layers 2,1,1
run tiny "$WORK/tiny4b.json" 4 "tiny, tp=2 x pp=2" --layers 4 --tp 2 --pp 2
run tiny "$WORK/tiny4b.json" 4 "tiny, pp=2 x dp=2" --layers 4 --pp 2
run tiny_gpt "$WORK/tiny_gpt4.json" 2 "tiny_gpt, pp=2" --layers 4 --pp 2 --global-batch 4
run tiny "$WORK/tiny4.json" 2 "tiny, pp=2 x vp=2 (interleaved), 4 micro-batches" --layers 4 --pp 2 --vp 2 \
  --global-batch 4
run tiny_gpt "$WORK/tiny_gpt4.json" 2 "tiny_gpt, pp=2 x vp=2 (interleaved)" --layers 4 --pp 2 --vp 2 --global-batch 4
run tiny "$WORK/tiny.json" 4 "tiny, tp=2 x dp=2, distributed optimizer" --tp 2 --distributed-optimizer
run tiny "$WORK/tiny.json" 3 "tiny, dp=3, distributed optimizer" --distributed-optimizer
run tiny "$WORK/tiny.json" 2 "tiny, tp=2, sp, activation checkpointing" --tp 2 --sp --activation-checkpointing
run tiny "$WORK/tiny4b.json" 4 "tiny, tp=2 x pp=2, activation checkpointing" --layers 4 --tp 2 --pp 2 \
  --activation-checkpointing

expect_exit 2 "tp x pp does not divide the world" -- "$MPIRUN_LOCAL" 3 "$MEG" --model tiny --tp 2
grep -q "does not divide the world size 3" "$WORK/err" || fail "message: $(tail -1 "$WORK/err")"
expect_exit 2 "tp does not divide the heads" -- "$MPIRUN_LOCAL" 3 "$MEG" --model tiny --tp 3
grep -q "must divide the heads (4)" "$WORK/err" || fail "message: $(tail -1 "$WORK/err")"
expect_exit 2 "sp with a sequence tp does not divide" -- "$MPIRUN_LOCAL" 2 "$MEG" --model tiny --tp 2 --sp --seq 31
expect_exit 2 "pp greater than the layers" -- "$MPIRUN_LOCAL" 3 "$MEG" --model tiny --pp 3
grep -q "more stages than the 2 layers" "$WORK/err" || fail "message: $(tail -1 "$WORK/err")"
expect_exit 2 "pp-layers that do not add up" -- "$MPIRUN_LOCAL" 2 "$MEG" --model tiny --pp 2 --pp-layers 1,2
expect_exit 2 "vp that does not divide the layers per stage" -- "$MPIRUN_LOCAL" 2 "$MEG" --model tiny --layers 4 \
  --pp 2 --vp 3
grep -q "do not split into --pp 2 x --vp 3" "$WORK/err" || fail "message: $(tail -1 "$WORK/err")"
expect_exit 2 "interleaving with micro-batches not a multiple of pp" -- "$MPIRUN_LOCAL" 2 "$MEG" --model tiny \
  --layers 4 --pp 2 --vp 2 --global-batch 3
grep -q "multiple of --pp 2" "$WORK/err" || fail "message: $(tail -1 "$WORK/err")"

# Checkpoints (4 layers, batch 12): saved at step 5 by one layout, continued on another
# layout or strategy; steps 6-10 as the first run's own. tp=2 splits the row-parallel
# weights (attn.o, mlp.down) by columns: those pieces are blocks of columns.
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
four=(--model tiny --layers 4 "${common[@]}")
continued() {  # continued REF LABEL NP EXE FLAGS...: resume from $WORK/ck, compare steps 6-10 with REF
  local ref="$1" label="$2" np="$3" exe="$4"
  shift 4
  expect_exit 0 "$label" -- "$MPIRUN_LOCAL" "$np" "$exe" "${four[@]}" "$@" --ckpt-dir "$WORK/ck" --resume \
    --out "$WORK/continued.json"
  grep -q "# resume: $WORK/ck/tiny-5steps, continuing after step 5" "$WORK/out" || fail "$label: did not resume at step 5"
  compare_losses "$ref" "$WORK/continued.json" "$label" --steps 5 9
}
save5() {  # save5 LABEL NP EXE FLAGS...: 10 steps, a checkpoint after step 5 alone kept in $WORK/ck
  local label="$1" np="$2" exe="$3"
  shift 3
  rm -rf "$WORK/ck"
  expect_exit 0 "$label" -- "$MPIRUN_LOCAL" "$np" "$exe" "${four[@]}" "$@" --ckpt-dir "$WORK/ck" --ckpt-every 5 \
    --out "$WORK/saved.json"
  rm -rf "$WORK/ck/tiny-10steps"
}
save5 "tiny, tp=2 x pp=2, checkpoint every 5 steps" 4 "$MEG" --tp 2 --pp 2
cp "$WORK/saved.json" "$WORK/tp2pp2.json"
continued "$WORK/tp2pp2.json" "tp=2 x pp=2 checkpoint continued on tp=2 x pp=2" 4 "$MEG" --tp 2 --pp 2
continued "$WORK/tp2pp2.json" "tp=2 x pp=2 checkpoint continued on pp=2 x dp=2, distributed optimizer" 4 "$MEG" \
  --pp 2 --distributed-optimizer
continued "$WORK/tp2pp2.json" "tp=2 x pp=2 checkpoint continued by ddp_train, 1 process" 1 "$DDP"
continued "$WORK/tp2pp2.json" "tp=2 x pp=2 checkpoint continued by fsdp_llama, 3 ranks" 3 "$FSDP" \
  --activation-checkpointing=false
save5 "tiny, tp=2 x dp=2, distributed optimizer, checkpoint every 5 steps" 4 "$MEG" --tp 2 --distributed-optimizer
cp "$WORK/saved.json" "$WORK/tp2dp2.json"
continued "$WORK/tp2dp2.json" "distributed-optimizer checkpoint continued on tp=2 x pp=2" 4 "$MEG" --tp 2 --pp 2
save5 "fsdp_llama, 3 ranks, checkpoint every 5 steps" 3 "$FSDP" --activation-checkpointing=false
cp "$WORK/saved.json" "$WORK/fsdp3.json"
continued "$WORK/fsdp3.json" "fsdp_llama checkpoint continued on tp=2 x pp=2" 4 "$MEG" --tp 2 --pp 2
finish
