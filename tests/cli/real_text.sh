#!/usr/bin/env bash
# Real text: the tiny model trained for 200 steps on byte-level tokens that
# tools/make_dataset made from a real text file (this repository's README and design
# notes) ends at least 1.0 nat below where it started; flat and indexed formats.
source "$(dirname "$0")/../lib.sh"
text_dataset "$WORK/flat"
text_dataset "$WORK/idx" --format indexed
for data in "$WORK/flat.bin" "$WORK/idx.bin"; do
  expect_exit 0 "train on $(basename "$data")" -- "$MPIRUN_LOCAL" 2 "$DTBENCH_BIN/benchmarks/ddp_train" --model tiny \
    --data "$data" --seq 64 --global-batch 8 --steps 200 --lr 3e-3 --min-lr 3e-4 --warmup-steps 10 --log-every 50 \
    --threads 1 --out "$WORK/run.json"
  python3 - "$WORK/run.json" <<'PY' || fail "$(basename "$data"): the loss did not fall by 1.0 nat"
import json, sys
r = json.load(open(sys.argv[1]))
first = sum(s["loss"] for s in r["steps"][:5]) / 5
last = sum(s["loss"] for s in r["steps"][-5:]) / 5
print(f"    loss {first:.3f} -> {last:.3f} (mean of the first and last 5 steps)")
assert first - last >= 1.0, (first, last)
PY
done
finish
