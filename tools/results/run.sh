#!/usr/bin/env bash
# tools/dtbench-<name> (a symlink to this file) runs tools/results/<name>.py with the venv's
# Python, which has jsonschema (setup installs it): validate, compare, export, report.
set -euo pipefail
self="${BASH_SOURCE[0]}"
root="$(cd "$(dirname "$(readlink -f "$self")")/../.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
name="$(basename "$self")"
exec "$DTBENCH_VENV/bin/python" "$root/tools/results/${name#dtbench-}.py" "$@"
