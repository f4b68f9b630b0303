#!/usr/bin/env bash
# CI's sanitizer runs. Our code is built with a sanitizer into its own folder beside build/.
# These are CPU builds (DTBENCH_CUDA=OFF), because nvcc's device code cannot be instrumented.
# Then the tests that exercise that code run under it:
#   scripts/sanitize.sh address,undefined   ASan+UBSan (build-asan/): the unit tests and the
#                                           2- and 3-rank dist tests, with the freed-buffer
#                                           cache off (it would hide a use-after-free); leaks
#                                           checked in all but the 3-rank run (see below)
#   scripts/sanitize.sh thread              TSan (build-tsan/): the communication tests (op
#                                           thread, watchdog, MPI and store backends) at 2 and
#                                           3 ranks, with one OpenMP thread (libgomp is not
#                                           instrumented, so TSan cannot see its barriers)
# Any finding fails the test that found it: the build uses -fno-sanitize-recover=all and
# halt_on_error. The suppressions are in tests/sanitize/, each with its reason.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
supp="$root/tests/sanitize"
case "${1:-}" in
  address,undefined)
    dir="${DTBENCH_ASAN_BUILD_DIR:-build-asan}"
    targets="unit_tests model_tests dist_tests"
    tests='^(unit|unit_model|dist_np2)$'
    # dist_np3 runs with leak detection off: at exit LeakSanitizer's tracer crashes (SIGSEGV)
    # reading the thread-local storage of the components Open MPI 4.1.4 unloads at
    # MPI_Finalize; use_tls=0 avoids the crash but makes every pointer held in TLS a false
    # leak. Leaks stay checked in the unit tests and at 2 ranks; ASan and UBSan check all.
    tests_no_leaks='^dist_np3$'
    export DTBENCH_KEEP_FREED_MEMORY=0
    # fast_unwind_on_malloc=0: Open MPI is built without frame pointers, and a leak's stack
    # must reach the library that tests/sanitize/lsan.supp names.
    export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
    ;;
  thread)
    dir="${DTBENCH_TSAN_BUILD_DIR:-build-tsan}"
    targets="dist_tests"
    tests='^dist_comm_'
    tests_no_leaks=''
    export OMP_NUM_THREADS=1
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp:print_suppressions=0"
    ;;
  *)
    echo "usage: scripts/sanitize.sh address,undefined|thread" >&2
    exit 2
    ;;
esac
DTBENCH_BUILD_DIR="$dir" DTBENCH_TARGETS="$targets" \
  bash scripts/build.sh -DDTBENCH_SANITIZE="$1" -DDTBENCH_CUDA=OFF -DDTBENCH_WITH_LIBFABRIC=OFF
rc=0
ctest --test-dir "$dir" -R "$tests" --output-on-failure --timeout 300 || rc=1
if [ -n "$tests_no_leaks" ]; then
  ASAN_OPTIONS="${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}" \
    ctest --test-dir "$dir" -R "$tests_no_leaks" --output-on-failure --timeout 300 || rc=1
fi
exit "$rc"
