#!/usr/bin/env bash
# The nightly gate's own figures on this machine (a benchmark, not a test: its output goes in
# the README): after a baseline night, N unchanged nights back to back (how many cry wolf), then
# N nights with each planted slowdown (DTBENCH_SLOW_STEP, every rank's steps that fraction
# slower: how many are caught). Each slowed night is compared against the baseline and the
# unchanged nights' history only (a copy of the results tree), as a real regression would be.
#   scripts/gate_figures.sh [--nights N] [--repetitions R] [--slowdowns "0.25 0.10"]
#                           [--benchmarks "fsdp_llama ddp_train megatron_gpt"] [--out DIR]
# Defaults: 10 nights, R = 3, the training benchmarks (the ones the CPU preset judges;
# collectives' busbw is shown, not judged, on CPU). Prints one line per series and a summary.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nights=10 reps=3 slowdowns="0.25 0.10" set="fsdp_llama ddp_train megatron_gpt" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --nights) nights="$2"; shift 2 ;;
    --repetitions) reps="$2"; shift 2 ;;
    --slowdowns) slowdowns="$2"; shift 2 ;;
    --benchmarks) set="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "gate_figures: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$nights" =~ ^[1-9][0-9]?$ ]] || { echo "gate_figures: --nights '$nights': want 1..99" >&2; exit 2; }
out="${out:-$(mktemp -d /tmp/dtbench-gate.XXXXXX)}"
mkdir -p "$out"
nightly() {  # nightly RESULTS OUT DAY [ARGS...]: exit code of one night, dated DAY days after 2000-01-01
  local results="$1" dir="$2" day="$3" rc=0
  shift 3
  "$root/scripts/nightly.sh" --system cpu-2core --repetitions "$reps" --benchmarks "$set" --results "$results" \
    --date "$(date -u -d "2000-01-01 + $day days" +%F)" --out "$dir" "$@" >"$dir.log" 2>&1 || rc=$?
  echo "$rc"
}
regressions() { grep -c "| regression |" "$1/compare.md" || true; }
noisy() { grep -c "| noisy |" "$1/compare.md" || true; }

t0=$SECONDS
mkdir -p "$out/n0"
rc=$(nightly "$out/results" "$out/n0" 0 --update-baseline)
[ "$rc" -eq 0 ] || { echo "gate_figures: the baseline night failed (exit $rc): $out/n0.log" >&2; exit 3; }
echo "baseline night: $((SECONDS - t0)) s, R = $reps, benchmarks: $set"
false_alarms=0
for n in $(seq "$nights"); do
  mkdir -p "$out/u$n"
  rc=$(nightly "$out/results" "$out/u$n" "$n")
  [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || { echo "gate_figures: unchanged night $n failed (exit $rc)" >&2; exit 3; }
  [ "$rc" -eq 5 ] && false_alarms=$((false_alarms + 1))
  echo "  unchanged night $n: exit $rc, $(regressions "$out/u$n") regression(s), $(noisy "$out/u$n") noisy metric(s)"
done
echo "unchanged: $false_alarms of $nights nights flagged a regression (false alarms)"
summary=("unchanged nights with a false regression: $false_alarms/$nights")
for f in $slowdowns; do
  caught=0
  for n in $(seq "$nights"); do
    rm -rf "$out/r-$f" && cp -a "$out/results" "$out/r-$f"  # tonight joins a copy: the next night sees none of it
    mkdir -p "$out/s$f-$n"
    rc=$(DTBENCH_SLOW_STEP="$f" nightly "$out/r-$f" "$out/s$f-$n" $((nights + 1)))
    [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || { echo "gate_figures: slowed night $n failed (exit $rc)" >&2; exit 3; }
    # Caught: the gate fired (exit 5); how many benchmarks' step times it flagged is printed.
    hit=$(grep -c "| step_time_s | .* | regression |" "$out/s$f-$n/compare.md" || true)
    [ "$rc" -eq 5 ] && caught=$((caught + 1))
    echo "  slowdown $f, night $n: exit $rc, step time flagged for $hit of $(wc -w <<<"$set") benchmarks"
  done
  echo "planted slowdown $f: caught in $caught of $nights nights"
  summary+=("nights with a planted slowdown of $f caught (exit 5): $caught/$nights")
done
echo "== the gate's figures ($((SECONDS - t0)) s; records in $out)"
printf '  %s\n' "${summary[@]}"
