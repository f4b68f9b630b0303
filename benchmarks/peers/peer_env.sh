# shellcheck shell=bash
# What the side-by-side scripts share: where the repository, its build and the venv's Python
# are; gloo kept on loopback. Sourced; sets root, bin, py.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
# shellcheck disable=SC2034  # used by the scripts that source this file
bin="$root/$DTBENCH_BUILD_DIR"
# shellcheck disable=SC2034
py="$DTBENCH_VENV/bin/python"
export GLOO_SOCKET_IFNAME=lo
