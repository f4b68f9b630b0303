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

# Predictions on the shipped profiles (tests/unit/test_predict.cpp checks the model's structure).
expect_exit 0 "--list-profiles" -- "$PLANNER" --list-profiles
for p in p5.48xlarge p5e.48xlarge p5en.48xlarge p4d.24xlarge h100_96gb_grand_teton; do
  grep -q "^$p " "$WORK/out" || fail "--list-profiles: $p missing"
done
expect_exit 0 "--predict llama3_1_8b fsdp on p5" -- "$PLANNER" --model llama3_1_8b --dp 8 --fsdp --dtype bf16   --micro-batch 2 --seq 8192 --predict --profile p5.48xlarge --json
python3 - "$WORK/out" <<'PY' || fail "--predict --json"
import json, sys
p = json.load(open(sys.argv[1]))["prediction"]
parts = p["compute_s"] + p["exposed_comm_s"] + p["bubble_s"] + p["optimizer_s"] + p["overlap_s"]
assert abs(parts - p["step_time_s"]) < 1e-9 * p["step_time_s"] + 1e-12
assert 0 < p["mfu"] <= 1 and p["tokens_per_s"] > 0 and p["peak_mem_bytes"] > 0
assert any("GEMMs at the datasheet rate" in a for a in p["assumptions"])
assert {t["collective"] for t in p["comm"]} >= {"all_gather", "reduce_scatter"}
PY
expect_exit 0 "--predict across nodes" -- "$PLANNER" --model llama3_1_70b --dp 16 --tp 8 --pp 4 --sp --vp 2   --global-batch 128 --dtype bf16 --nodes 64 --predict --profile p5.48xlarge
grep -q "bubble" "$WORK/out" && grep -q "inter_node" "$WORK/out" || fail "--predict: no bubble or inter-node term"
expect_exit 0 "--search" -- "$PLANNER" --model llama3_1_70b --search --nodes 8 --profile p5.48xlarge --seq 4096
grep -q "^ 1 " "$WORK/out" && grep -q "predicted peak memory above the device's" "$WORK/out" ||
  fail "--search: no ranking or no rejections: $(cat "$WORK/out")"
expect_exit 2 "an unknown profile" -- "$PLANNER" --model tiny --predict --profile p9.huge
grep -q "no shipped profile of that name (shipped: h100_96gb_grand_teton, p4d.24xlarge" "$WORK/err" ||
  fail "unknown profile: $(cat "$WORK/err")"
python3 - "$DTBENCH_SRC/profiles/p5.48xlarge.json" "$WORK/negative.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["device"]["mem_bandwidth"]["value"] = -3.35e12
json.dump(p, open(sys.argv[2], "w"))
PY
expect_exit 2 "a negative figure" -- "$PLANNER" --model tiny --predict --profile "$WORK/negative.json"
grep -q "device.mem_bandwidth is -3350000000000: it must be above 0" "$WORK/err" || fail "negative: $(cat "$WORK/err")"
expect_exit 2 "--predict: tp not dividing the heads" -- "$PLANNER" --model llama3_1_8b --tp 3 --predict   --profile p5.48xlarge
expect_exit 2 "--predict: ep not dividing the experts" -- "$PLANNER" --model mixtral_8x7b --dp 3 --ep 3 --fsdp   --predict --profile p5.48xlarge
expect_exit 2 "--predict: pp above the layers" -- "$PLANNER" --model tiny --pp 64 --predict --profile p5.48xlarge
expect_exit 2 "more ranks on a node than it has GPUs" -- "$PLANNER" --model llama3_1_8b --dp 64 --fsdp --predict \
  --profile p5.48xlarge
grep -q "64 ranks on each of 1 node(s), but a p5.48xlarge node has 8 devices: give --nodes 8" "$WORK/err" ||
  fail "ranks per node: $(cat "$WORK/err")"
expect_exit 0 "--dry-run --hw-profile" -- "$DTBENCH_BIN/benchmarks/fsdp_llama" --model llama3_1_8b --dtype bf16 \
  --dry-run --hw-profile p5.48xlarge
grep -q "^step  .* = compute" "$WORK/out" || fail "--dry-run --hw-profile: no predicted step: $(cat "$WORK/out")"
expect_exit 2 "records without --calibrate" -- "$PLANNER" --model tiny "$WORK/negative.json"
finish
