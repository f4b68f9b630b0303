#!/usr/bin/env bash
# What --trace costs (a benchmark, not a test: its figure goes in the notes): fsdp_llama and
# ddp_train on 2 local ranks, R runs with and R without --trace, interleaved, each run's median
# step time from its record; prints per benchmark the median over runs of each and the ratio.
#   scripts/trace_overhead.sh [--repetitions R] [--steps N] [--model NAME] [--out DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${DTBENCH_BIN:-$root/build}"
reps=5 steps=30 model=tiny out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repetitions) reps="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "trace_overhead: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$reps" =~ ^[1-9][0-9]?$ ]] || { echo "trace_overhead: --repetitions '$reps': want 1..99" >&2; exit 2; }
[[ "$steps" =~ ^[1-9][0-9]{0,4}$ ]] || { echo "trace_overhead: --steps '$steps': want 1..99999" >&2; exit 2; }
out="${out:-$(mktemp -d /tmp/dtbench-trace-overhead.XXXXXX)}"
mkdir -p "$out"
for bench in fsdp_llama ddp_train; do
  for i in $(seq "$reps"); do
    for mode in plain traced; do
      extra=()
      [ "$mode" = traced ] && extra=(--trace "$out/$bench.$i.trace")
      "$bin/launch/dtbench-launch" --nproc-per-node 2 -- "$bin/benchmarks/$bench" --model "$model" --seq 64 \
        --global-batch 8 --steps "$steps" --threads 1 "${extra[@]}" --out "$out/$bench.$mode.$i.json" >/dev/null 2>&1 \
        || { echo "trace_overhead: $bench ($mode, run $i) failed" >&2; exit 3; }
    done
  done
done
python3 - "$out" "$reps" <<'PY'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
for bench in ("fsdp_llama", "ddp_train"):
    med = {m: statistics.median(json.load(open(f"{out}/{bench}.{m}.{i}.json"))["metrics"]["step_time_s"]["median"]
                                for i in range(1, reps + 1)) for m in ("plain", "traced")}
    print(f"{bench}: step time {med['plain'] * 1e3:.2f} ms plain, {med['traced'] * 1e3:.2f} ms with --trace: "
          f"x{med['traced'] / med['plain']:.3f} ({reps} runs each, interleaved)")
PY
