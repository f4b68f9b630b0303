#!/usr/bin/env bash
# fsdp_llama against PyTorch FSDP2 (fully_shard, the same torch wheel, gloo, CPU) side by
# side in one run: same Llama shape, global batch, threads (1 per rank) and steps,
# activation checkpointing off on both, gradients reduce-scattered every micro-step on both.
# Alternates the two per repetition and prints, per case, the median tokens/s and peak RSS
# (largest over ranks) of both with the ratios; fsdp_llama's exposed communication share
# (time blocked on gathers and reductions / step time); and fsdp_llama's step time with and
# without prefetch (what overlap buys); FSDP2 again, keeping freed memory as fsdp_llama does.
#   benchmarks/peers/compare_fsdp.sh [REPS]
# What the ratio measures on this machine: two ranks share two cores with their
# communication threads, and gloo's (and MPI's) CPU collectives are copies through memory,
# so it compares whole CPU implementations (C++ loop and MPI against Python FSDP2 and gloo),
# not what either does on GPUs with NCCL.
# shellcheck source=benchmarks/peers/peer_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/peer_env.sh"
reps="${1:-3}"
out="/tmp/compare_fsdp.$$.json"
trap 'rm -f "$out"' EXIT

ours() {  # ours NP FLAGS...: prints "tokens_per_s peak_rss exposed_share step_s"
  local np="$1"
  shift
  "$root/launch/mpirun-local" "$np" "$bin/benchmarks/fsdp_llama" --model tiny "$@" --threads 1 \
    --activation-checkpointing=false --log-every 1000 --out "$out" >/dev/null
  python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; print(m['tokens_per_s'], m['peak_mem_bytes'], m['exposed_comm_share'], m['step_time_s']['median'])" "$out"
}
# fsdp_llama caches freed tensor buffers for reuse (core/train/host_memory.h); the nearest
# thing for the peer, glibc's tunables keeping freed memory in its heap, shows how much of
# the ratio that alone explains.
keep_freed="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647"
theirs() {  # theirs NP FLAGS...: prints "tokens_per_s peak_rss"
  local np="$1"
  shift
  "$py" -m torch.distributed.run --nproc_per_node "$np" --master_addr 127.0.0.1 --master_port $((20000 + RANDOM % 20000)) \
    "$root/benchmarks/peers/torch_peer.py" --strategy fsdp2 "$@" --threads 1 2>/dev/null \
    | awk '/tokens_per_s/{t=$2} /peak_rss_bytes/{m=$2} END{print t, m}'
}
run_case() {  # run_case NAME NP FLAGS...
  local name="$1" np="$2"
  shift 2
  local a=() b=() b_same=() noprefetch=()
  for _ in $(seq "$reps"); do
    a+=("$(ours "$np" "$@")")
    b+=("$(theirs "$np" "$@")")
    b_same+=("$(GLIBC_TUNABLES="$keep_freed" theirs "$np" "$@")")
    [ "$np" -gt 1 ] && noprefetch+=("$(ours "$np" "$@" --prefetch=false)")
  done
  python3 - "$name" "$np" "$(printf '%s;' "${a[@]}")" "$(printf '%s;' "${b[@]}")" "$(printf '%s;' "${noprefetch[@]}")" \
    "$(printf '%s;' "${b_same[@]}")" <<'PY'
import statistics, sys
name, np = sys.argv[1], sys.argv[2]
rows = lambda s: [[float(x) for x in r.split()] for r in s.split(";") if r.strip()]
a, b, c, d = rows(sys.argv[3]), rows(sys.argv[4]), rows(sys.argv[5]), rows(sys.argv[6])
med = lambda rs, i: statistics.median(r[i] for r in rs)
ta, tb, ma, mb, td, md = med(a, 0), med(b, 0), med(a, 1), med(b, 1), med(d, 0), med(d, 1)
print(f"{name}, {np} rank(s): fsdp_llama {ta:.0f} tok/s {ma / 2**30:.2f} GiB | FSDP2 {tb:.0f} tok/s {mb / 2**30:.2f} GiB"
      f" | throughput x{ta / tb:.2f}, memory x{ma / mb:.2f} | fsdp_llama exposed comm {100 * med(a, 2):.0f}% of the step")
print(f"    FSDP2 keeping freed memory (glibc tunables): {td:.0f} tok/s {md / 2**30:.2f} GiB"
      f" | throughput x{ta / td:.2f}, memory x{ma / md:.2f}")
if c:
    print(f"    prefetch on: step {med(a, 3):.3f} s; off: {med(c, 3):.3f} s (x{med(c, 3) / med(a, 3):.2f}); "
          f"exposed comm {100 * med(a, 2):.0f}% vs {100 * med(c, 2):.0f}%")
PY
}
tiny=(--hidden 64 --layers 2 --heads 4 --kv-heads 2 --ffn 192 --vocab 256 --seq 128 --global-batch 8 --steps 20)
heavy=(--hidden 512 --layers 8 --heads 8 --kv-heads 4 --ffn 1408 --vocab 32000 --seq 128 --global-batch 4
  --micro-batch 2 --steps 5)
echo "# fp32, CPU, 1 thread per rank, median of ${reps} alternating runs"
run_case "tiny (h64 L2, 131k parameters), seq 128, batch 8" 2 "${tiny[@]}"
run_case "tiny (h64 L2, 131k parameters), seq 128, batch 8" 1 "${tiny[@]}"
run_case "state-heavy (h512 L8 vocab 32000, 58M parameters), seq 128, batch 4" 2 "${heavy[@]}"
run_case "state-heavy (h512 L8 vocab 32000, 58M parameters), seq 128, batch 4" 1 "${heavy[@]}"
