#!/usr/bin/env bash
# The whole test suite: set up (idempotent), build, check, run every CTest test, then the
# sanitizer runs. Prints the time of each phase; CTest ends with its summary and the time of
# each test group (label).
#   build   build/ (the main build), and the two other configurations tests build again from
#           scratch, so that their builds are ccache hits inside a test's time limit:
#           the CPU image's build stage (tests/containers/cpu_build_steps.sh --build-only, in
#           the test's own fixed scratch place) and the GPU check's rehearsal (MPI and
#           libfabric off, Release)
#   tidy    clang-tidy with .clang-tidy's checks over build/'s compile commands (scripts/tidy.py)
#   tests   ctest, two tests at a time (tests/CMakeLists.txt says which run alone)
#   asan    scripts/sanitize.sh address,undefined: unit tests, 2- and 3-rank dist tests
#   tsan    scripts/sanitize.sh thread: the communication tests over MPI and the store
# The checks and test phases all run even when one fails (a failed setup or build stops it);
# the exit code is then 1, and the last lines printed say which phases and tests failed (a CI
# log is often read from its tail).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
summary=()
phase() {  # phase NAME COMMAND...: runs it and prints how long it took
  local name="$1" t0 rc=0
  shift
  t0=$(date +%s)
  echo "=== ${name}"
  "$@" || rc=$?
  echo "=== ${name}: $(($(date +%s) - t0)) s (exit ${rc})"
  summary+=("${name}: $(($(date +%s) - t0)) s, exit ${rc}")
  return "$rc"
}
failed_tests() {  # failed_tests BUILD_DIR: the tests CTest's last run there failed
  local f="$1/Testing/Temporary/LastTestsFailed.log"
  [ -s "$f" ] && echo "    failed in $1: $(cut -d: -f2 "$f" | tr '\n' ' ')"
  return 0
}
rc=0
phase setup bash scripts/setup.sh
phase build bash scripts/build.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
phase build-cpu bash tests/containers/cpu_build_steps.sh --build-only
phase build-rehearsal bash scripts/gpu_check.sh --device cpu --build-only --build-budget 3000 \
  --build-dir "$DTBENCH_BUILD_DIR/tests/gpu-check-rehearsal"
tidy_log="$DTBENCH_BUILD_DIR/tidy.log"
# shellcheck disable=SC2016  # $1 and $2 are the inner shell's arguments
phase tidy bash -c 'set -o pipefail; python3 scripts/tidy.py --build-dir "$1" 2>&1 | tee "$2"' _ \
  "$DTBENCH_BUILD_DIR" "$tidy_log" || rc=1
phase tests ctest --test-dir "$DTBENCH_BUILD_DIR" --output-on-failure --timeout 300 -j 2 || rc=1
phase asan bash scripts/sanitize.sh address,undefined || rc=1
phase tsan bash scripts/sanitize.sh thread || rc=1
echo "=== summary"
printf '    %s\n' "${summary[@]}"
if [ "$rc" -ne 0 ]; then
  [ ! -f "$tidy_log" ] || grep -q '^\[tidy\] clean' "$tidy_log" || { echo "    tidy's last lines:"; tail -n 15 "$tidy_log" | sed 's/^/      /'; }
  failed_tests "$DTBENCH_BUILD_DIR"
  failed_tests "${DTBENCH_ASAN_BUILD_DIR:-build-asan}"
  failed_tests "${DTBENCH_TSAN_BUILD_DIR:-build-tsan}"
fi
exit "$rc"
