#!/usr/bin/env bash
# Set up, build, and run the main job on two local CPU ranks.
# Until fsdp_llama lands, the main job is collectives_perf (all_reduce, 8 B to 64 MiB).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh >/tmp/dtbench-build.log 2>&1 || { tail -30 /tmp/dtbench-build.log; echo "[quickstart] build failed (log: /tmp/dtbench-build.log)" >&2; exit 1; }
# shellcheck source=scripts/env.sh
source scripts/env.sh
mkdir -p runs
exec launch/mpirun-local 2 "$DTBENCH_BUILD_DIR/benchmarks/collectives_perf" --op all_reduce -b 8 -e 64M -f 4 -n 10 -w 2 \
  --out runs/quickstart-collectives.json "$@"
