#!/usr/bin/env bash
# Set up, build, and run the main job: a tiny Llama trained with FSDP (ZeRO-3) on two local
# CPU ranks, on byte-level tokens of this repository's own text, printing its step lines
# and a summary; the result record goes to runs/quickstart-fsdp.json. Extra arguments go to
# fsdp_llama (e.g. --steps 200).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh >/tmp/dtbench-build.log 2>&1 || { tail -30 /tmp/dtbench-build.log; echo "[quickstart] build failed (log: /tmp/dtbench-build.log)" >&2; exit 1; }
# shellcheck source=scripts/env.sh
source scripts/env.sh
mkdir -p runs
cat README.md docs/ARCHITECTURE.md core/*/*.h >runs/quickstart-text.txt
"$DTBENCH_BUILD_DIR/tools/make_dataset" --input runs/quickstart-text.txt --output runs/quickstart-text >/dev/null
exec launch/mpirun-local 2 "$DTBENCH_BUILD_DIR/benchmarks/fsdp_llama" --model tiny --data runs/quickstart-text.bin \
  --seq 64 --global-batch 8 --steps 60 --lr 3e-3 --min-lr 3e-4 --warmup-steps 5 --log-every 5 --threads 1 \
  --out runs/quickstart-fsdp.json "$@"
