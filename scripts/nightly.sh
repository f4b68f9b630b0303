#!/usr/bin/env bash
# The nightly regression run: the standard set (collectives, every op; fsdp_llama;
# megatron_gpt; ddp_train) at the preset's sizes, R times (--repetitions, default 3),
# interleaved (the whole set, then again), so that a slow minute hits one repetition of
# several benchmarks, not every repetition of one; each record validated, compared with the
# system's baselines (results/baselines/<system>, R runs per key; the history's last nights as
# the noise band), appended to results/history/<system>/<date>.jsonl, a report with plots, and
# the figures pushed to a Prometheus Pushgateway and/or written as node_exporter textfiles.
#   scripts/nightly.sh --system cpu-2core [--repetitions R] [--benchmarks "NAME ..."]
#                      [--pushgateway http://127.0.0.1:9091] [--textfile-dir DIR] [--out DIR]
#                      [--results DIR] [--date YYYY-MM-DD] [--update-baseline] [--grafana URL]
#                      [--hw-profile P]
# --benchmarks: a subset of the set's names (collectives_<op>, fsdp_llama, ddp_train, megatron_gpt);
# --date: the night's name in the history (default: today, UTC), e.g. to rerun a missed night.
# --grafana: the report links results/grafana's dashboard there (e.g. http://grafana:3000).
# --hw-profile: the training runs record what profile P (tools/planner --list-profiles, or a
# file from planner --calibrate) predicts, and the report shows measured over predicted.
# Presets by DEVICE: cpu (tiny shapes, 2 ranks, launch/mpirun-local) or cuda (the GPU
# sizes); ranks started by $NIGHTLY_LAUNCH (default: mpirun-local 2 on cpu, srun --mpi=pmix on cuda).
# Exit: 5 on a regression, else the first failing step's code, else 0; 2 on bad arguments.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
bin="$root/$DTBENCH_BUILD_DIR"
system="" pushgateway="" textfile="" grafana="" update="" results="$root/results" out="" reps=3 only="" date_tag=""
hw_profile=()
while [ $# -gt 0 ]; do
  case "$1" in
    --system) system="$2"; shift 2 ;;
    --repetitions) reps="$2"; shift 2 ;;
    --benchmarks) only="$2"; shift 2 ;;
    --date) date_tag="$2"; shift 2 ;;
    --pushgateway) pushgateway="$2"; shift 2 ;;
    --textfile-dir) textfile="$2"; shift 2 ;;
    --grafana) grafana="$2"; shift 2 ;;
    --hw-profile) hw_profile=(--hw-profile "$2"); shift 2 ;;
    --results) results="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --update-baseline) update=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "nightly: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$system" ] || { echo "nightly: --system NAME is required (e.g. p5.48xlarge-2x8-cu130, cpu-2core)" >&2; exit 2; }
[[ "$reps" =~ ^[1-9][0-9]?$ ]] || { echo "nightly: --repetitions '$reps': want 1..99 runs of each benchmark (default 3)" >&2; exit 2; }
if [ -n "$date_tag" ] && ! { [[ "$date_tag" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] && date -u -d "$date_tag" >/dev/null 2>&1; }; then
  echo "nightly: --date '$date_tag': want YYYY-MM-DD" >&2
  exit 2
fi
: "${date_tag:=$(date -u +%Y-%m-%d)}"
out="${out:-$root/runs/nightly/$date_tag}"
mkdir -p "$out" "$results/history/$system"
: "${DEVICE:=cpu}"
if [ "$DEVICE" = cpu ]; then
  # The default is an array, not split from a string: the clone's path may hold spaces.
  if [ -n "${NIGHTLY_LAUNCH:-}" ]; then read -r -a launch <<<"$NIGHTLY_LAUNCH"; else launch=("$root/launch/mpirun-local" 2); fi
  train=(--model tiny --seq 64 --global-batch 8 --steps 12 --threads 1 --log-every 100)
  coll=(-b 8 -e 1M -f 8 -n 10 -w 2)
  megatron=(--model tiny --layers 4 --tp 1 --pp 2 --global-batch 8 --seq 64 --steps 12 --threads 1 --log-every 100)
  # CPU collectives on a small machine (MPI's shared-memory transport, ranks sharing cores)
  # drift between runs far beyond their within-run spread: shown, not judged.
  judge=(--ignore busbw)
else
  read -r -a launch <<<"${NIGHTLY_LAUNCH:-srun --mpi=pmix}"
  train=(--model llama3_1_8b --device cuda --dtype bf16 --steps 50 --log-every 10)
  coll=(-b 8 -e 8G -f 2 -n 20 -w 5 --device cuda)
  megatron=(--model gpt3_7_5b --tp 8 --pp 2 --device cuda --steps 50 --log-every 10)
  judge=()
fi
set_names=(collectives_all_reduce collectives_all_gather collectives_reduce_scatter collectives_broadcast
  collectives_reduce collectives_all_to_all collectives_send_recv fsdp_llama ddp_train megatron_gpt)
for name in $only; do
  [[ " ${set_names[*]} " == *" $name "* ]] || { echo "nightly: --benchmarks: '$name' is not in the set (${set_names[*]})" >&2; exit 2; }
done
failed=0
run() {  # run NAME BENCHMARK ARGS...: one record, $out/NAME.json (skipped outside --benchmarks)
  local name="$1" bench="$2"
  shift 2
  [ -z "$only" ] || [[ " $only " == *" ${name%.r*} "* ]] || return 0
  echo "[nightly] $name" >&2
  rm -f "$out/$name.json"
  "${launch[@]}" "$bin/benchmarks/$bench" "$@" --tag nightly="$date_tag" --out "$out/$name.json" \
    >"$out/$name.log" 2>&1 || { local rc=$?; echo "[nightly] $name failed (exit $rc): $(tail -1 "$out/$name.log")" >&2;
      [ "$failed" -ne 0 ] || failed=$rc; }
}
for rep in $(seq "$reps"); do
  for op in all_reduce all_gather reduce_scatter broadcast reduce all_to_all send_recv; do
    run "collectives_$op.r$rep" collectives_perf --op "$op" "${coll[@]}"
  done
  run "fsdp_llama.r$rep" fsdp_llama "${train[@]}" "${hw_profile[@]}"
  run "ddp_train.r$rep" ddp_train "${train[@]}" "${hw_profile[@]}"
  run "megatron_gpt.r$rep" megatron_gpt "${megatron[@]}" "${hw_profile[@]}"
done

mapfile -t records < <(find "$out" -maxdepth 1 -name '*.json' | sort)
[ "${#records[@]}" -gt 0 ] || { echo "[nightly] no records" >&2; exit 3; }
"$root/tools/dtbench-validate" "${records[@]}" >"$out/validate.txt" || { cat "$out/validate.txt" >&2; exit 2; }
compare_rc=0
rm -f "$out/compare.json"
if [ -n "$update" ]; then
  "$root/tools/dtbench-compare" --baselines "$results/baselines/$system" --update-baseline "${records[@]}" >"$out/compare.md"
else
  "$root/tools/dtbench-compare" --baselines "$results/baselines/$system" --history "$results/history/$system" \
    --repetitions "$reps" --json "$out/compare.json" "${judge[@]}" "${records[@]}" >"$out/compare.md" || compare_rc=$?
fi
cat "$out/compare.md"
# Tonight joins the history after the comparison (the band is made of earlier nights).
"$DTBENCH_VENV/bin/python" "$root/tools/results/history.py" "$results/history/$system/$date_tag.jsonl" "$system" \
  "${records[@]}"
report_args=()
[ -n "$grafana" ] && report_args+=(--grafana "$grafana")
"$root/tools/dtbench-report" --out "$out/report" --history "$results/history/$system" \
  --baselines "$results/baselines/$system" --compare "$out/compare.md" "${report_args[@]}" "${records[@]}" >&2
export_args=()
[ -n "$pushgateway" ] && export_args+=(--pushgateway "$pushgateway" --job nightly)
[ -n "$textfile" ] && export_args+=(--textfile-dir "$textfile")
[ -f "$out/compare.json" ] && export_args+=(--compare "$out/compare.json")
if [ -n "$pushgateway$textfile" ]; then
  # One series per key: the last repetition's figures (a second record of a key would
  # duplicate its series).
  mapfile -t last < <(find "$out" -maxdepth 1 -name "*.r$reps.json" | sort)
  "$root/tools/dtbench-export" "${export_args[@]}" --system "$system" "${last[@]}" >&2 || { [ "$failed" -ne 0 ] || failed=3; }
fi
echo "[nightly] records, compare.md and report/ in $out" >&2
[ "$compare_rc" -eq 5 ] && exit 5
[ "$compare_rc" -ne 0 ] && exit "$compare_rc"
exit "$failed"
