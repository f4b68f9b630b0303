#!/usr/bin/env bash
# A mixture of experts against the dense model with the same active parameters, same tokens,
# in one run (fsdp_llama, fp32 on the CPU): "small" (hidden 256, 4 layers, dense MLP of width
# 704) against small with 8 experts of width 352, top-2 (the same 2 x 352 = 704 of MLP per
# token, plus a router of 8 x 256), without and with expert parallelism (--ep NP). Alternates
# the cases per repetition and prints the median step time of each, the ratio to dense, and
# where the time goes in forward, from rank 0's --trace spans per step: the dense MLP against
# the MoE's routing ("moe route": router, top-k, sort, counts), the experts (with the
# dispatch and the way back) and the combine, plus the all-to-all share of the step.
#   benchmarks/peers/moe_vs_dense.sh [NP] [REPS]
# shellcheck source=benchmarks/peers/peer_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/peer_env.sh"
np="${1:-2}" reps="${2:-3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
common=(--model small --seq 256 --global-batch 8 --steps 12 --threads 1 --activation-checkpointing=false
  --log-every 1000)
# shellcheck disable=SC2154  # root and bin come from peer_env.sh
run() {  # run NAME FLAGS...: prints "step_s all_to_all_share" and leaves rank 0's trace in $tmp/NAME
  local name="$1"
  shift
  rm -rf "${tmp:?}/$name"
  "$root/launch/mpirun-local" "$np" "$bin/benchmarks/fsdp_llama" "${common[@]}" "$@" --trace "$tmp/$name" \
    --out "$tmp/$name.json" >/dev/null
  python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; print(m['step_time_s']['median'], m.get('moe', {}).get('all_to_all_share', 0))" "$tmp/$name.json"
}
spans() {  # spans NAME: "name=ms per step ..." of the MLP spans on rank 0, the first step left out
  python3 - "$tmp/$1/trace.rank0.json" <<'PY'
import json, sys
events = json.load(open(sys.argv[1]))
events = events["traceEvents"] if isinstance(events, dict) else events
steps = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("ph") == "X" and e["name"].startswith("step "))[1:]
total = {}
for e in events:
    if e.get("ph") == "X" and e["name"] in ("mlp", "moe route", "moe experts", "moe combine"):
        if any(a <= e["ts"] < b for a, b in steps):
            total[e["name"]] = total.get(e["name"], 0) + e["dur"] / 1000 / len(steps)
print(" ".join(f"{k}={v:.1f}" for k, v in sorted(total.items())))
PY
}
declare -A times
for _ in $(seq "$reps"); do
  times[dense]+="$(run dense);"
  times[moe]+="$(run moe --experts 8 --top-k 2 --ffn 352);"
  times[moe_ep]+="$(run moe_ep --experts 8 --top-k 2 --ffn 352 --ep "$np");"
done
for name in dense moe moe_ep; do
  python3 - "$name" "${times[$name]}" "${times[dense]}" "$(spans "$name")" <<'PY'
import statistics, sys
name, rows, dense, spans = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
parse = lambda s: [[float(x) for x in r.split()] for r in s.split(";") if r.strip()]
step = statistics.median(r[0] for r in parse(rows))
base = statistics.median(r[0] for r in parse(dense))
share = statistics.median(r[1] for r in parse(rows))
print(f"{name:7s} step {1000 * step:7.1f} ms  x{step / base:.2f} of dense  all-to-all {100 * share:4.1f}%  "
      f"forward ms/step: {spans}")
PY
done
