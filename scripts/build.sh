#!/usr/bin/env bash
# Configures (once) and builds dtbench into $DTBENCH_BUILD_DIR (default build/), with ccache.
# Arguments go to the first configure; DTBENCH_TARGETS (space-separated) builds only those.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
cd "$root"
prefix="$("$DTBENCH_VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
  || { echo "[build] torch not found in ${DTBENCH_VENV}: run scripts/setup.sh first" >&2; exit 1; }
# shellcheck source=scripts/ccache_env.sh
source "$root/scripts/ccache_env.sh"
if [ ! -f "$DTBENCH_BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$DTBENCH_BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE="${DTBENCH_BUILD_TYPE:-RelWithDebInfo}" \
    -DCMAKE_PREFIX_PATH="$prefix" \
    -DDTBENCH_PYTHON="$DTBENCH_VENV/bin/python" \
    "$@"
fi
jobs="${DTBENCH_JOBS:-$(nproc)}"
targets=()
for t in ${DTBENCH_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$DTBENCH_BUILD_DIR" -j "$jobs" "${targets[@]}"
