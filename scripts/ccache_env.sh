# shellcheck shell=bash
# ccache settings shared by every build of this tree (scripts/build.sh, scripts/gpu_check.sh):
# one cache outside the clone, so fresh clones and scratch build folders reuse it; paths
# relative to the clone; precompiled headers are cached only with the pch_defines and
# time_macros sloppiness.
export CCACHE_DIR="${CCACHE_DIR:-/opt/dtbench/ccache}"
CCACHE_BASEDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CCACHE_BASEDIR
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
# Debug info (-g) names the build folder; without this every clone and scratch folder
# (CI, tests/containers, gpu_check) would miss the cache that another folder filled.
export CCACHE_NOHASHDIR=1
