#!/usr/bin/env bash
# The whole test suite: set up (idempotent), build, run every CTest test. Prints the time
# of each phase; CTest ends with its summary and the time of each test group (label).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
phase() {  # phase NAME COMMAND...: runs it and prints how long it took
  local name="$1" t0 rc=0
  shift
  t0=$(date +%s)
  echo "=== ${name}"
  "$@" || rc=$?
  echo "=== ${name}: $(($(date +%s) - t0)) s (exit ${rc})"
  return "$rc"
}
phase setup bash scripts/setup.sh
phase build bash scripts/build.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
phase tests ctest --test-dir "$DTBENCH_BUILD_DIR" --output-on-failure --timeout 300
