#!/usr/bin/env bash
# ddp_train against PyTorch's own DDP in Python (the same torch wheel, gloo), side by side in
# one run: same Llama shape, global batch, threads and steps, 2 ranks on this machine.
# Alternates the two per repetition; prints tokens/s (median step after the first) of both,
# the median over repetitions, and the ratio ddp_train / PyTorch.
#   benchmarks/peers/compare_ddp.sh [REPS]
# shellcheck source=benchmarks/peers/peer_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/peer_env.sh"
reps="${1:-3}"
run_case() {  # run_case NAME SHAPE-FLAGS...
  local name="$1" port dt pt
  shift
  local ours=() theirs=()
  for _ in $(seq "$reps"); do
    "$root/launch/mpirun-local" 2 "$bin/benchmarks/ddp_train" --model tiny "$@" --threads 1 --log-every 1000 \
      --out "/tmp/compare_ddp.$$.json" >/dev/null
    dt=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics']['tokens_per_s'])" "/tmp/compare_ddp.$$.json")
    port=$((20000 + RANDOM % 20000))
    pt=$("$py" -m torch.distributed.run --nproc_per_node 2 --master_addr 127.0.0.1 --master_port "$port" \
      "$root/benchmarks/peers/torch_peer.py" --strategy ddp "$@" --threads 1 2>/dev/null | awk '/tokens_per_s/{print $2}')
    ours+=("$dt")
    theirs+=("$pt")
  done
  python3 - "$name" "${ours[*]}" "${theirs[*]}" <<'PY'
import statistics, sys
name, a, b = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"{name:<34} ddp_train {ma:>9.0f} tok/s   PyTorch DDP {mb:>9.0f} tok/s   ratio {ma / mb:.2f}")
PY
  rm -f "/tmp/compare_ddp.$$.json"
}
echo "# 2 ranks, 1 thread each, fp32, CPU, median of ${reps} alternating runs"
run_case "tiny (h64 L2), seq 128, batch 8" --hidden 64 --layers 2 --heads 4 --kv-heads 2 --ffn 192 --vocab 256 \
  --seq 128 --global-batch 8 --micro-batch 1 --steps 20
run_case "compute-bound (h512 L4), seq 256, batch 8" --hidden 512 --layers 4 --heads 8 --kv-heads 4 --ffn 1408 \
  --vocab 256 --seq 256 --global-batch 8 --micro-batch 2 --steps 8
