#!/usr/bin/env bash
# Predictions against this machine: a profile calibrated from its own records (collectives_perf
# at 2 ranks, env_check --sweep, four training runs of one shape), then two runs of another
# shape trained with --hw-profile: their records carry the prediction, validate against the
# schema, and the predicted peak memory per rank is within 25 % of the measured peak RSS (the
# measurement, not the arithmetic the prediction came from). dtbench-report and the nightly
# run (--hw-profile) show the ratio.
# Records of a process pinned to one CPU make a one-core node. Records from another machine are
# refused by --calibrate, a bad --hw-profile before any
# communication. No duration is asserted.
source "$(dirname "$0")/../lib.sh"
PLANNER="$DTBENCH_BIN/tools/planner"
B="$DTBENCH_BIN/benchmarks"
steps=(--steps 5 --log-every 100)
for op in all_reduce all_gather reduce_scatter; do
  expect_exit 0 "collectives_perf $op" -- "$MPIRUN_LOCAL" 2 "$B/collectives_perf" --op "$op" -b 1K -e 4M -f 4 -n 5 \
    --out "$WORK/cal_$op.json"
done
expect_exit 0 "env_check --sweep" -- "$B/env_check" --sweep --sweep-seconds 0.5 --out "$WORK/cal_env.json"
A=(--model small --hidden 128 --ffn 352 --seq 128 --global-batch 4 "${steps[@]}")
expect_exit 0 "calibration run: ddp 2" -- "$MPIRUN_LOCAL" 2 "$B/ddp_train" "${A[@]}" --out "$WORK/cal_ddp.json"
expect_exit 0 "calibration run: fsdp 2" -- "$MPIRUN_LOCAL" 2 "$B/fsdp_llama" "${A[@]}" --out "$WORK/cal_fsdp.json"
expect_exit 0 "calibration run: tp 2" -- "$MPIRUN_LOCAL" 2 "$B/megatron_gpt" "${A[@]}" --tp 2 --out "$WORK/cal_tp.json"
expect_exit 0 "calibration run: fsdp 2, checkpointing off" -- "$MPIRUN_LOCAL" 2 "$B/fsdp_llama" "${A[@]}" \
  --activation-checkpointing=false --out "$WORK/cal_fsdp_noac.json"
expect_exit 0 "planner --calibrate" -- "$PLANNER" --calibrate --name this-cpu --out "$WORK/profile.json" "$WORK"/cal_*.json
grep -q "intra_node all_reduce" "$WORK/out" || fail "--calibrate: no all_reduce fit printed: $(cat "$WORK/out")"
python3 - "$WORK/profile.json" <<'PY' || fail "the calibrated profile"
import json, socket, sys
p = json.load(open(sys.argv[1]))
assert p["schema"] == "dtbench.hw_profile/v1" and p["kind"] == "cpu", p
assert p["host"]["hostnames"] == [socket.gethostname().split(".")[0]], p["host"]
fit = p["levels"]["intra_node"]["collectives"]["all_reduce"]
assert fit["bus_bandwidth"] > 0 and len(fit["points"]) == 7 and "collectives_perf" in fit["source"]["calibrated"], fit
runs = p["efficiency"]["gemm"]["source"]["runs"]
assert len(runs) == 4 and all(r["fitted_step_s"] > 0 for r in runs), runs
assert p["efficiency"]["runtime_bytes"]["value"] > 0
PY
expect_exit 0 "--cores-per-node" -- "$PLANNER" --calibrate --cores-per-node 1 --out "$WORK/one_core.json" "$WORK"/cal_*.json
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["device"]["per_node"]["value"] == 1, p["device"]' \
  "$WORK/one_core.json" || fail "--cores-per-node 1: not in the profile"
expect_exit 2 "--cores-per-node above the records' cores" -- "$PLANNER" --calibrate --cores-per-node 4096 \
  --out "$WORK/x.json" "$WORK"/cal_*.json
# A process pinned to one CPU (taskset, as Slurm's binding or a cpuset does) runs one thread and
# says so in its record; a node calibrated from such records has one core.
expect_exit 0 "env_check --sweep on one CPU" -- taskset -c 0 "$B/env_check" --sweep --sweep-seconds 0.3 \
  --out "$WORK/pinned_env.json"
python3 - "$WORK/pinned_env.json" <<'PY' || fail "a pinned record's CPUs"
import json, os, sys
cpu = json.load(open(sys.argv[1]))["system"]["cpu"]
assert cpu["usable"] == 1 and cpu["threads"] == 1 and cpu["cores"] == os.cpu_count(), cpu
PY
expect_exit 0 "--calibrate from pinned records" -- "$PLANNER" --calibrate --out "$WORK/pinned.json" \
  "$WORK"/cal_all_reduce.json "$WORK/pinned_env.json"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["device"]["per_node"]["value"] == 1, p["device"]' \
  "$WORK/pinned.json" || fail "records with one usable CPU: the profile's node does not have one core"
# The GEMM rate by size: probed by env_check, carried into the profile, used by --predict.
expect_exit 0 "env_check --sweep-gemm-sizes" -- "$B/env_check" --sweep --sweep-seconds 0.3 --sweep-gemm-sizes 32,128 \
  --out "$WORK/sizes_env.json"
expect_exit 0 "--calibrate with the rate by size" -- "$PLANNER" --calibrate --out "$WORK/sizes.json" \
  "$WORK"/cal_all_reduce.json "$WORK/sizes_env.json"
python3 - "$WORK/sizes_env.json" "$WORK/sizes.json" <<'PY' || fail "the GEMM rate by size"
import json, sys
by = json.load(open(sys.argv[1]))["sweep"]["median"]["gemm_gflops_by_size"]
assert [x["size"] for x in by] == [32, 128] and all(x["gflops"] > 0 for x in by), by
curve = json.load(open(sys.argv[2]))["device"]["gemm_flops_by_size"]
assert curve["dtype"] == "fp32" and [p["size"] for p in curve["points"]] == [32, 128], curve
PY
expect_exit 0 "--predict on a profile with the rate by size" -- "$PLANNER" --model small --dp 2 --predict \
  --profile "$WORK/sizes.json"
expect_exit 2 "--sweep-gemm-sizes 8" -- "$B/env_check" --sweep --sweep-gemm-sizes 8

Bshape=(--model small --hidden 192 --ffn 512 --seq 96 --global-batch 4 "${steps[@]}" --hw-profile "$WORK/profile.json")
expect_exit 0 "ddp 2 with --hw-profile" -- "$MPIRUN_LOCAL" 2 "$B/ddp_train" "${Bshape[@]}" --out "$WORK/ddp.json"
grep -q "# predicted on this-cpu: step" "$WORK/out" || fail "no prediction line: $(tail -3 "$WORK/out")"
expect_exit 0 "fsdp 2 with --hw-profile" -- "$MPIRUN_LOCAL" 2 "$B/fsdp_llama" "${Bshape[@]}" --out "$WORK/fsdp.json"
expect_exit 0 "the records validate" -- "$DTBENCH_SRC/tools/dtbench-validate" "$WORK/ddp.json" "$WORK/fsdp.json"
for f in ddp fsdp; do
  python3 - "$WORK/$f.json" <<'PY' || fail "$f: predicted peak memory"
import json, sys
r = json.load(open(sys.argv[1]))
p = r["prediction"]
measured, predicted = r["metrics"]["peak_mem_bytes"], p["peak_mem_bytes"]
assert 0.8 <= measured / predicted <= 1.25, (measured, predicted)
assert abs(p["measured_over_predicted"]["peak_mem"] - measured / predicted) < 1e-9
assert p["measured_over_predicted"]["step_time"] > 0 and p["profile"] == "this-cpu"
parts = p["compute_s"] + p["exposed_comm_s"] + p["bubble_s"] + p["optimizer_s"] + p["overlap_s"]
assert abs(parts - p["step_time_s"]) <= 1e-6 * p["step_time_s"], (parts, p["step_time_s"])
print(f"{sys.argv[1]}: peak memory measured {measured / 2**20:.0f} MiB, predicted {predicted / 2**20:.0f} MiB")
PY
done
expect_exit 0 "dtbench-report" -- "$DTBENCH_SRC/tools/dtbench-report" --out "$WORK/report" "$WORK/fsdp.json"
grep -rq "predicted on this-cpu" "$WORK/report" || fail "the report does not show the prediction"
expect_exit 0 "nightly --hw-profile" -- "$DTBENCH_SRC/scripts/nightly.sh" --system predict-test --repetitions 1 \
  --benchmarks fsdp_llama --results "$WORK/results" --out "$WORK/night" --update-baseline --hw-profile "$WORK/profile.json"
grep -rq "predicted on this-cpu: step .* measured/predicted step" "$WORK/night/report" ||
  fail "the nightly report does not show measured over predicted"

# Another machine's records: the same record with another CPU model.
python3 - "$WORK/cal_ddp.json" "$WORK/other.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["system"]["cpu"]["model"] = "Another CPU"
json.dump(r, open(sys.argv[2], "w"))
PY
expect_exit 2 "records of another machine" -- "$PLANNER" --calibrate --out "$WORK/x.json" "$WORK"/cal_*.json \
  "$WORK/other.json"
grep -q "was measured on .*Another CPU.*: calibrate each machine from its own records" "$WORK/err" ||
  fail "--calibrate: the cause is not named: $(cat "$WORK/err")"
expect_exit 2 "refining with another host's record" -- "$PLANNER" --calibrate --profile "$WORK/profile.json" \
  --out "$WORK/y.json" "$WORK/other.json"
expect_exit 2 "an unknown --hw-profile" -- "$MPIRUN_LOCAL" 2 "$B/fsdp_llama" "${A[@]}" --hw-profile p9.huge
grep -q "no shipped profile of that name" "$WORK/err" "$WORK/out" || fail "--hw-profile: the cause is not named"
finish
