#!/usr/bin/env bash
# The single-GPU check (issue 8): one script for a bare H200 machine that reaches no registry
# and has torch, CMake, ninja and nvcc but no MPI, libfabric or Debian packages. In under 8
# minutes it builds the three executables it needs with MPI and libfabric off (NCCL then
# bootstraps over the TCP store; header-only dependencies come from .deps/, which
# scripts/fill_deps.sh fills on a Debian machine), then runs
#   1. kernel_check: every fused kernel against its reference, fp32 and bf16 tolerances;
#   2. fsdp_llama at world size 1: Llama 3.2 1B, bf16, sequence 2048, no activation
#      checkpointing: tokens/s, TFLOP/s, MFU;
#   3. collectives_perf over NCCL on the one GPU: every data type, results checked; then a
#      mixture of experts (fsdp_llama --model tiny_moe, bf16) and all_to_allv, checked;
#   4. on cuda where nsys exists: fsdp_llama's steps 4-5 under Nsight Systems (NSYS=1's way:
#      launch/nsys-wrap, --profile-steps 4-5), its report in DIR/gpu_check/nsys/;
#   5. the same model in a plain PyTorch eager loop (benchmarks/peers/torch_eager_peer.py);
# and prints a summary: the verdicts, the figures, the ratio dtbench / PyTorch and the goals
# (MFU >= 45%, ratio >= 1.1; a missed goal is reported, not a failure).
# --device cpu runs the same steps on any machine with a tiny model and short runs: the
# rehearsal before GPU time is spent (CTest: gpu_check_rehearsal).
#   scripts/gpu_check.sh [--device cuda|cpu] [--build-dir DIR] [--jobs N] [--budget S] [--build-budget S]
#                        [--build-only]
# DIR (default <clone>/build-gpucheck) holds the build; DIR/gpu_check/ a log per step, the
# records and summary.json. Every step runs under `timeout`: the build inside --build-budget
# (default 600 s on cuda, a cold build on 16 cores; 1400 s on cpu), the checks inside --budget, counted from the end
# of the build (default 470 s on cuda), so that a cold build cannot spend the checks' time.
# Preflight on cuda: the driver is R580 or newer (CUDA 13 needs it) and nvcc is the CUDA of
# the torch wheel. Exit: 0 every step passed; 2 bad usage or a missing
# prerequisite; 4 a correctness failure (a kernel off tolerance, a wrong collective, a NaN
# loss); otherwise the first failing step's code (past its time limit: 3). --build-only stops
# after the build (scripts/test.sh builds the rehearsal's folder that way before the tests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
# shellcheck source=scripts/ccache_env.sh
source "$root/scripts/ccache_env.sh"

usage() { echo "usage: scripts/gpu_check.sh [--device cuda|cpu] [--build-dir DIR] [--jobs N] [--budget S] [--build-budget S] [--build-only]"; }
die() {  # die CODE MESSAGE
  printf '[gpu_check] FAILED: %s\n' "$2" >&2
  exit "$1"
}
device=cuda
build_dir="$root/build-gpucheck"
jobs="$(nproc)"
budget=""
build_budget=""
build_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="${2:-}"; shift 2 ;;
    --build-dir) build_dir="${2:-}"; shift 2 ;;
    --jobs) jobs="${2:-}"; shift 2 ;;
    --budget) budget="${2:-}"; shift 2 ;;
    --build-budget) build_budget="${2:-}"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown argument '$1'" ;;
  esac
done
case "$device" in cuda | cpu) ;; *) die 2 "--device '$device': use cuda or cpu" ;; esac
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die 2 "--jobs '$jobs': want a positive integer"
# The cold CPU build of the rehearsal (2 cores) takes far longer than the H200's 16 cores.
if [ -z "$budget" ]; then
  if [ "$device" = cuda ]; then budget=470; else budget=1400; fi
fi
if [ -z "$build_budget" ]; then
  if [ "$device" = cuda ]; then build_budget=600; else build_budget=1400; fi
fi
[[ "$budget" =~ ^[1-9][0-9]*$ ]] || die 2 "--budget '$budget': want seconds, a positive integer"
[[ "$build_budget" =~ ^[1-9][0-9]*$ ]] || die 2 "--build-budget '$build_budget': want seconds, a positive integer"
[ -n "$build_dir" ] || die 2 "--build-dir: empty"
if [ ! -d "$build_dir" ]; then
  mkdir -p "$build_dir"
  echo '*' >"$build_dir/.gitignore"  # a build folder inside the clone stays out of git
fi
build_dir="$(cd "$build_dir" && pwd)"
out="$build_dir/gpu_check"
rm -rf "$out"  # no record of an earlier run may pass for this one's
mkdir -p "$out"
started=$(date +%s)
deadline=$((started + build_budget))  # the build's; the checks get theirs once it is done

# ---- steps: each under timeout, inside the budget; name, seconds and exit code kept -------
steps=()
first_rc=0
worst=0
# step NAME CAP quiet|loud COMMAND...: runs it with a time limit of min(CAP, what the budget
# has left), its output in $out/NAME.log (loud: also on the terminal; quiet: its tail on
# failure). Returns the command's exit code, a timeout as 3.
step() {
  local name="$1" cap="$2" mode="$3" t0 limit rc
  shift 3
  t0=$(date +%s)
  limit=$((deadline - t0))
  [ "$limit" -le "$cap" ] || limit="$cap"
  if [ "$limit" -le 0 ]; then
    echo "=== ${name}: not run, its budget is spent"
    rc=3
  else
    echo "=== ${name} (limit ${limit} s)"
    set +e
    if [ "$mode" = loud ]; then
      timeout -k 10 "$limit" "$@" 2>&1 | tee "$out/$name.log"
      rc=${PIPESTATUS[0]}
    else
      timeout -k 10 "$limit" "$@" >"$out/$name.log" 2>&1
      rc=$?
    fi
    set -e
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      echo "=== ${name}: past its ${limit} s limit, stopped"
      rc=3
    fi
    [ "$mode" = loud ] || [ "$rc" -eq 0 ] || tail -25 "$out/$name.log" | sed 's/^/    /'
  fi
  echo "=== ${name}: $(($(date +%s) - t0)) s (exit ${rc})"
  steps+=("$name:$(($(date +%s) - t0)):$rc")
  [ "$rc" -eq 0 ] || [ "$first_rc" -ne 0 ] || first_rc=$rc
  [ "$rc" -ne 4 ] || worst=4
  return "$rc"
}
# stop NAME CODE MESSAGE: a check between steps failed; record it and finish.
stop() {
  echo "[gpu_check] $3"
  steps+=("$1:0:$2")
  [ "$first_rc" -ne 0 ] || first_rc=$2
  summary
}
# summary: the block and summary.json from the step list and the records; exits the script.
summary() {
  local rc=0
  "$py" - "$out" "$device" "$budget" "${steps[@]}" <<'PY' || rc=$?
import json, os, re, sys
out, device, budget, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
phases = [dict(zip(("name", "seconds", "exit"), (n, int(s), int(c)))) for n, s, c in (x.split(":") for x in steps)]
ran = {p["name"]: p for p in phases}
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
def verdict(name):
    p = ran.get(name)
    return "not run" if p is None else "pass" if p["exit"] == 0 else f"FAILED (exit {p['exit']})"
def no_result(name):
    return verdict(name) + ("" if name not in ran else f": no result (log: {out}/{name}.log)")
s = {"device": device, "budget_s": budget, "phases": phases, "total_s": sum(p["seconds"] for p in phases)}
lines = ["phases       " + " | ".join(f"{p['name']} {p['seconds']} s" for p in phases) + f" | total {s['total_s']} s"]
kc = ran.get("kernel_check") and open(os.path.join(out, "kernel_check.log"), errors="replace").read()
counts = re.search(r"^# (\d+) checks, (\d+) off tolerance", kc or "", re.M)
s["kernel_check"] = {"verdict": verdict("kernel_check"), "checks": int(counts[1]) if counts else None,
                     "off_tolerance": int(counts[2]) if counts else None}
lines.append(f"kernel_check {s['kernel_check']['verdict']}" + (f": {counts[1]} checks, {counts[2]} off tolerance" if counts else ""))
rec, peer, mismatch = load("fsdp_llama.json"), load("peer.json"), False
m = rec and rec.get("status") == "ok" and rec["metrics"]
if m:
    mc = rec["config"]["model_config"]
    s["fsdp_llama"] = {k: m[k] for k in ("tokens_per_s", "tflops_per_device", "mfu", "peak_flops_per_device",
                                         "peak_source", "peak_mem_bytes", "loss_first", "loss_last")}
    s["fsdp_llama"]["parameters"] = mc["parameters"]
    lines.append(f"fsdp_llama   {mc['model']} ({mc['parameters']} parameters), seq {mc['layout']['seq']}, "
                 f"global batch {rec['config'].get('global-batch', '?')}: {m['tokens_per_s']:.0f} tokens/s, "
                 f"{m['tflops_per_device']:.4g} TFLOP/s, MFU {100 * m['mfu']:.1f}% "
                 f"(peak {m['peak_flops_per_device'] / 1e12:.4g} TFLOP/s, {m['peak_source']})")
else:
    lines.append(f"fsdp_llama   {no_result('fsdp_llama')}")
coll = load("collectives_perf.json")
if coll and coll.get("rows"):
    big = max(coll["rows"], key=lambda r: (r["size_bytes"], r["type"] == "bfloat16"))
    s["collectives_perf"] = {"verdict": verdict("collectives_perf"), "backend": coll["launch"]["backend"],
                             "rows": len(coll["rows"]), "wrong": coll["metrics"]["wrong"],
                             "largest": {"size_bytes": big["size_bytes"], "type": big["type"],
                                         "algbw_gbps": big["out_of_place"]["algbw_gbps"]}}
    lines.append(f"collectives  {verdict('collectives_perf')}: all_reduce over {coll['launch']['backend']}, "
                 f"{len(coll['rows'])} sizes x types checked, {coll['metrics']['wrong']} wrong; "
                 f"{big['size_bytes']} B {big['type']}: {big['out_of_place']['algbw_gbps']:.1f} GB/s algbw")
else:
    lines.append(f"collectives  {no_result('collectives_perf')}")
moe, a2av = load("moe.json"), load("all_to_allv.json")
if moe and moe.get("metrics", {}).get("moe"):
    mm = moe["metrics"]["moe"]
    s["moe"] = {"verdict": verdict("moe"), "loss_first": moe["metrics"]["loss_first"],
                "loss_last": moe["metrics"]["loss_last"], "aux_loss_last": mm["aux_loss_last"],
                "imbalance": mm["imbalance"]}
    lines.append(f"moe          {verdict('moe')}: tiny_moe bf16, loss {moe['metrics']['loss_first']:.3f} -> "
                 f"{moe['metrics']['loss_last']:.3f}, aux {mm['aux_loss_last']:.4f}, experts max/mean {mm['imbalance']:.2f}")
else:
    lines.append(f"moe          {no_result('moe')}")
if a2av and a2av.get("rows"):
    s["all_to_allv"] = {"verdict": verdict("all_to_allv"), "rows": len(a2av["rows"]), "wrong": a2av["metrics"]["wrong"]}
    lines.append(f"all_to_allv  {verdict('all_to_allv')}: {len(a2av['rows'])} sizes x types checked, "
                 f"{a2av['metrics']['wrong']} wrong")
else:
    lines.append(f"all_to_allv  {no_result('all_to_allv')}")
if "nsys" in ran:
    reps = sorted(f for f in os.listdir(os.path.join(out, "nsys")) if f.endswith(".nsys-rep")) \
        if os.path.isdir(os.path.join(out, "nsys")) else []
    s["nsys"] = {"verdict": verdict("nsys"), "reports": reps}
    lines.append(f"nsys         {verdict('nsys')}: steps 4-5 captured, {', '.join(reps) or 'no report written'}")
elif device == "cuda":
    lines.append("nsys         not run: Nsight Systems is not on PATH here")
if peer:
    s["peer"] = peer
    line = f"peer         PyTorch {peer['torch']} eager: {peer['tokens_per_s']:.0f} tokens/s ({peer['parameters']} parameters)"
    if m:
        peer["mfu"] = peer["tokens_per_s"] * m["flops_per_token"] / m["peak_flops_per_device"]
        line += f", MFU {100 * peer['mfu']:.1f}% on the same count"
        mismatch = peer["parameters"] != s["fsdp_llama"]["parameters"]
    lines.append(line)
else:
    lines.append(f"peer         {no_result('peer')}")
if mismatch:
    lines.append(f"peer         FAILED: trains {peer['parameters']} parameters, fsdp_llama {s['fsdp_llama']['parameters']}: "
                 "not the same model, no ratio")
elif m and peer:
    s["ratio"] = m["tokens_per_s"] / peer["tokens_per_s"]
    lines.append(f"ratio        dtbench / PyTorch eager = {s['ratio']:.3f}")
goals = []
for what, value, goal, shown in (("MFU >= 45%", m and m["mfu"], 0.45, lambda v: f"{100 * v:.1f}%"),
                                 ("ratio >= 1.1", s.get("ratio"), 1.1, lambda v: f"{v:.3f}")):
    g = "n/a" if not value else "pass" if value >= goal else "miss"
    goals.append({"goal": what, "value": value or None, "result": g})
    lines.append(f"goal: {what}: {g}" + (f" ({shown(value)})" if value else "")
                 + (" [cpu rehearsal: the goals are the H200's]" if device == "cpu" else ""))
s["goals"] = goals
s["summary"] = os.path.join(out, "summary.json")
lines.append(f"summary      {s['summary']}")
with open(s["summary"] + ".tmp", "w") as f:
    json.dump(s, f, indent=1)
os.replace(s["summary"] + ".tmp", s["summary"])
print(f"==================== gpu_check summary ({device}) ====================")
print("\n".join(lines))
sys.exit(2 if mismatch else 0)
PY
  [ "$rc" -eq 0 ] || [ "$first_rc" -ne 0 ] || first_rc=$rc
  if [ "$worst" -ne 0 ]; then exit "$worst"; fi
  exit "$first_rc"
}

# ---- preflight: what the machine has, before anything is built -----------------------------
py=""
for cand in python3 "$DTBENCH_VENV/bin/python"; do  # the GPU machine's torch is the system python's
  if torch_prefix="$("$cand" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)"; then
    py="$(command -v "$cand")"
    break
  fi
done
[ -n "$py" ] || die 2 "no python with torch: neither python3 on PATH nor $DTBENCH_VENV/bin/python imports torch"
for tool in cmake ninja; do command -v "$tool" >/dev/null || die 2 "$tool not found on PATH"; done
echo "=== preflight"
if [ "$device" = cuda ]; then
  # CUDA 13 (the wheel and the image) needs an R580 driver or newer; an older one shows up
  # later only as "no CUDA device", so it is named here.
  driver="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)" || driver=""
  [ -n "$driver" ] || die 2 "nvidia-smi reports no driver: is this a GPU machine with the NVIDIA driver loaded?"
  [ "${driver%%.*}" -ge 580 ] 2>/dev/null \
    || die 2 "driver $driver is too old: torch's CUDA 13 needs R580 or newer (nvidia-smi)"
  echo "NVIDIA driver $driver"
fi
"$py" - "$device" <<'PY' || die 2 "--device cuda: torch sees no CUDA device (or is a CPU build)"
import sys, torch
cuda = sys.argv[1] == "cuda"
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU visible"
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}) at {torch.__file__.rsplit('/', 2)[0]}; {gpu}")
sys.exit(1 if cuda and not torch.cuda.is_available() else 0)
PY
if [ -f "$root/.deps/.packages" ]; then deps_note=".deps ($(tr '\n' ' ' <"$root/.deps/.packages"))"
elif [ -f /usr/include/nlohmann/json.hpp ]; then deps_note="the system's"
else die 2 "no nlohmann/json.hpp: run scripts/fill_deps.sh on a Debian machine and bring .deps/ along"; fi
nvcc_version="$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')" || nvcc_version="none on PATH"
if [ "$device" = cuda ]; then
  # Kernels built by one CUDA and linked against the wheel's runtime of another fail late and
  # obscurely; the two must agree on major.minor.
  torch_cuda="$("$py" -c 'import torch; print(torch.version.cuda)')"
  [ "$nvcc_version" = "$torch_cuda" ] \
    || die 2 "nvcc ${nvcc_version:-none on PATH} is not torch's CUDA $torch_cuda: put CUDA $torch_cuda's nvcc first on PATH"
fi
echo "cmake $(cmake --version | head -1 | awk '{print $3}'), ninja $(ninja --version), nvcc ${nvcc_version}," \
  "header-only dependencies: ${deps_note}; build ${build_dir}, ${jobs} jobs, budget ${budget} s"

# The model and the run, one place for both programs. On cuda: Llama 3.2 1B (tied
# embeddings, RoPE theta 500000), 16384 tokens a step in two micro-batches of 4 x 2048. On
# cpu: the tiny Llama, so that the rehearsal's runs take seconds.
if [ "$device" = cuda ]; then
  model=llama3_2_1b
  shape=(--hidden 2048 --layers 16 --heads 32 --kv-heads 8 --ffn 8192 --vocab 128256)
  peer_shape=(--tied --rope-theta 500000)
  run=(--seq 2048 --micro-batch 4 --global-batch 8 --steps 10)
  coll=(--backend nccl -b 1M -e 256M -f 16 -n 20 -w 5 -d all)
else
  model=tiny
  shape=(--hidden 64 --layers 2 --heads 4 --kv-heads 2 --ffn 192 --vocab 256)
  peer_shape=(--rope-theta 10000)
  run=(--seq 128 --micro-batch 2 --global-batch 4 --steps 6)
  coll=(--backend store -b 64K -e 4M -f 8 -n 5 -w 2 -d all)
fi
threads="$(nproc)"
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# One process, its store on loopback; NCCL's own bootstrap sockets on loopback too.
single() { echo --rank 0 --world-size 1 --master-addr 127.0.0.1 --master-port "$(port)"; }
export MASTER_ADDR=127.0.0.1 NCCL_SOCKET_IFNAME="${NCCL_SOCKET_IFNAME:-lo}" TORCH_CUDA_ARCH_LIST=9.0
export PYTHONDONTWRITEBYTECODE=1  # the peer imports torch_peer: no __pycache__ in the clone
steps+=("preflight:$(($(date +%s) - started)):0")

# ---- configure and build: only what the checks run ------------------------------------------
targets=(benchmarks/fsdp_llama benchmarks/collectives_perf)  # as paths in the build folder
[ ! -f "$root/tools/kernel_check/main.cpp" ] || targets=(tools/kernel_check "${targets[@]}")
step configure 120 quiet cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${DTBENCH_BUILD_TYPE:-Release}" \
  -DCMAKE_PREFIX_PATH="$torch_prefix" -DDTBENCH_WITH_MPI=OFF -DDTBENCH_WITH_LIBFABRIC=OFF \
  -DTORCH_CUDA_ARCH_LIST=9.0 -DBUILD_TESTING=OFF || summary
grep -h '^-- dtbench: ' "$out/configure.log" || true
if [ "$device" = cuda ] && ! grep -q 'CUDA/NCCL ON' "$out/configure.log"; then
  stop cuda_build 2 "configure found no CUDA compiler or no NCCL in the torch wheel: is nvcc on PATH (or CUDACXX set)?"
fi
step build "$build_budget" quiet cmake --build "$build_dir" -j "$jobs" --target "${targets[@]##*/}" || summary
bin="$build_dir"
for exe in "${targets[@]}"; do
  [ -x "$bin/$exe" ] || stop build_outputs 3 "the build made no $bin/$exe"
done
if [ "$build_only" -eq 1 ]; then
  echo "[gpu_check] --build-only: ${targets[*]} built in $build_dir"
  exit 0
fi

# ---- the checks: each runs whatever the others did, inside their own budget ---------------
deadline=$(($(date +%s) + budget))
if [ -x "$bin/tools/kernel_check" ]; then
  step kernel_check 90 loud "$bin/tools/kernel_check" --device "$device" || true
else
  echo "=== kernel_check: not in this tree (no tools/kernel_check/), skipped"
fi
# shellcheck disable=SC2046  # single's words are flags
step fsdp_llama 180 loud "$bin/benchmarks/fsdp_llama" --device "$device" --model "$model" "${shape[@]}" "${run[@]}" \
  --dtype bf16 --activation-checkpointing=false --data synthetic --threads "$threads" $(single) \
  --out "$out/fsdp_llama.json" || true
# shellcheck disable=SC2046
step collectives_perf 90 loud "$bin/benchmarks/collectives_perf" --device "$device" --op all_reduce "${coll[@]}" \
  $(single) --out "$out/collectives_perf.json" || true
# A mixture of experts on the device: routing, the sorted dispatch, the experts and the
# combine on its tensors (bf16, fp32 router); all_to_allv's grouped send/recv (checked).
# shellcheck disable=SC2046
step moe 90 loud "$bin/benchmarks/fsdp_llama" --device "$device" --model tiny_moe --seq 256 --global-batch 4 \
  --steps 5 --dtype bf16 --data synthetic --threads "$threads" $(single) --out "$out/moe.json" || true
# shellcheck disable=SC2046
step all_to_allv 60 loud "$bin/benchmarks/collectives_perf" --device "$device" --op all_to_allv "${coll[@]}" \
  $(single) --out "$out/all_to_allv.json" || true
# Nsight Systems over steps 4-5 of a short run, as NSYS=1 runs ranks (launch/nsys-wrap, the
# capture range from --profile-steps). A machine without nsys says so and goes on.
if [ "$device" = cuda ] && command -v nsys >/dev/null 2>&1; then
  # shellcheck disable=SC2046
  step nsys 150 loud env NSYS=1 NSYS_DIR="$out/nsys" "$root/launch/nsys-wrap" "$bin/benchmarks/fsdp_llama" \
    --device cuda --model "$model" "${shape[@]}" --seq 2048 --micro-batch 4 --global-batch 8 --steps 6 \
    --profile-steps 4-5 --dtype bf16 --data synthetic $(single) --out "$out/nsys_fsdp.json" || true
elif [ "$device" = cuda ]; then
  echo "=== nsys: Nsight Systems is not on PATH here: the profiling check is skipped"
fi
step peer 180 loud "$py" "$root/benchmarks/peers/torch_eager_peer.py" --device "$device" "${shape[@]}" "${peer_shape[@]}" \
  "${run[@]}" --dtype bf16 --threads "$threads" --out "$out/peer.json" || true
summary
