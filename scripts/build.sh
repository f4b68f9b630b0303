#!/usr/bin/env bash
# Configures (once) and builds dtbench into $DTBENCH_BUILD_DIR (default build/), with ccache.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
cd "$root"
prefix="$("$DTBENCH_VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
  || { echo "[build] torch not found in ${DTBENCH_VENV}: run scripts/setup.sh first" >&2; exit 1; }
export CCACHE_DIR="${CCACHE_DIR:-/opt/dtbench/ccache}"
export CCACHE_BASEDIR="$root"
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
if [ ! -f "$DTBENCH_BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$DTBENCH_BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE="${DTBENCH_BUILD_TYPE:-RelWithDebInfo}" \
    -DCMAKE_PREFIX_PATH="$prefix" \
    -DDTBENCH_PYTHON="$DTBENCH_VENV/bin/python" \
    "$@"
fi
jobs="${DTBENCH_JOBS:-$(nproc)}"
cmake --build "$DTBENCH_BUILD_DIR" -j "$jobs"
