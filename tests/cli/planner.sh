#!/usr/bin/env bash
# planner: the model arithmetic from the command line, for the largest configs too.
source "$(dirname "$0")/../lib.sh"
PLANNER="$DTBENCH_BIN/tools/planner"

expect_exit 0 "llama2_7b plan" -- "$PLANNER" --model llama2_7b
grep -q "parameters     6738415616" "$WORK/out" || fail "llama2_7b: parameter count: $(cat "$WORK/out")"
expect_exit 0 "gpt3_310_1b on 4096 ranks, json" -- "$PLANNER" --model gpt3_310_1b --dp 64 --tp 8 --pp 8 --fsdp \
  --dtype bf16 --activation-checkpointing --json
python3 - "$WORK/out" <<'PY' || fail "planner --json"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["model"] == "gpt3_310_1b" and p["layout"]["tp"] == 8
m = p["memory_per_rank_bytes"]
assert m["total"] == m["params"] + m["grads"] + m["optimizer"] + m["activations"] > 0
assert p["flops_per_token"] > 6 * p["parameters"]
PY
expect_exit 0 "overrides" -- "$PLANNER" --model tiny --hidden 128 --heads 8 --kv-heads 8 --layers 3
grep -q "hidden 128 layers 3 heads 8 kv-heads 8" "$WORK/out" || fail "overrides not applied"
expect_exit 0 "--list" -- "$PLANNER" --list
[ "$(wc -l <"$WORK/out")" -ge 19 ] || fail "--list: fewer entries than the registry"
expect_exit 2 "tp not dividing the heads" -- "$PLANNER" --model llama2_70b --tp 3
expect_exit 2 "an unknown model" -- "$PLANNER" --model llama9
expect_exit 2 "kv-heads not dividing heads" -- "$PLANNER" --model tiny --kv-heads 3
expect_exit 2 "seq beyond learned positions" -- "$PLANNER" --model gpt2 --seq 4096
finish
