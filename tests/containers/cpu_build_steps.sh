#!/usr/bin/env bash
# The CPU image's build stage without a Docker engine: the RUN steps of containers/cpu.Dockerfile's
# `build` stage, as check_dockerfiles.py reads them (the stage's ENV, ARG and SHELL applied, an
# otherwise empty environment), run on this Debian 12 machine in a scratch copy of the working
# tree (tracked and untracked files git does not ignore) standing in for the image's WORKDIR.
# setup.sh finds everything installed; build.sh's ccache (/opt/dtbench/ccache) turns the build
# into cache hits from the second run on: ccache keys debug builds on the directory, so the
# copy has a fixed place (one run at a time) and the first run compiles everything. Then the
# binaries the runtime stage would copy (dist/) run.
#   tests/containers/cpu_build_steps.sh [--build-only]
# --build-only stops after the build stage: scripts/test.sh's build-cpu phase runs it so that the
# test's own run finds every object in ccache (keyed by this fixed place; a build of the same
# configuration elsewhere, such as a build-cpu/ folder in the clone, did not warm it).
build_only=0
[ "${1:-}" = --build-only ] && build_only=1
source "$(dirname "$0")/../lib.sh"
if [ "$(id -u)" -ne 0 ] || [ "$(cut -d. -f1 /etc/debian_version 2>/dev/null)" != 12 ]; then
  echo "skipped: the CPU image's build steps run as root on Debian 12 (setup.sh installs packages)"
  finish
  exit $?
fi
scratch=/tmp/dtbench-containers
exec {lock}>"$scratch.lock"
flock -w 1200 "$lock" || { fail "another run holds $scratch.lock"; finish; exit 1; }
rm -rf "$scratch"
cleanup_hooks+=("rm -rf $scratch")
ctx="$scratch/context"
mkdir -p "$ctx"
(cd "$DTBENCH_SRC" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
  | tar --null -T - -cf -) | tar -C "$ctx" -xf -

stopped=0
n=0
dt_run() {  # dt_run LOCATION DIR -- COMMAND...: one step in the stand-in; after a failure, none
  local loc="$1" dir="$2" t0 rc=0
  shift 3
  [ "$stopped" -eq 0 ] || return 0
  n=$((n + 1))
  t0=$(date +%s)
  (cd "$ctx/$dir" && "$@") >"$WORK/step$n.log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then pass "step $n, $loc ($(($(date +%s) - t0)) s)"
  else fail "step $n, $loc: exit $rc"; tail -25 "$WORK/step$n.log" | sed 's/^/    /'; stopped=1; fi
}

steps="$WORK/steps.sh"
if python3 "$DTBENCH_SRC/tests/containers/check_dockerfiles.py" --steps build --context "$ctx" \
  "$DTBENCH_SRC/containers/cpu.Dockerfile" >"$steps" 2>"$WORK/steps.err"; then
  pass "build stage read: $(grep -c '^dt_run' "$steps") RUN steps"
else
  fail "build stage: $(cat "$WORK/steps.err")"
  finish
  exit 1
fi
# shellcheck source=/dev/null
source "$steps"
[ "$stopped" -eq 0 ] || { finish; exit 1; }
if [ "$build_only" -eq 1 ]; then finish; exit $?; fi

# What the runtime stage copies: executables only, in build/'s layout, and they run.
bin="$ctx/dist/build"
for exe in benchmarks/fsdp_llama benchmarks/collectives_perf launch/dtbench-launch tools/planner; do
  if [ -x "$bin/$exe" ]; then pass "dist has build/$exe"; else fail "dist lacks build/$exe"; fi
done
others=$(find "$ctx/dist" -type f ! -perm -u+x | head -3)
if [ -z "$others" ]; then pass "dist holds executables only"; else fail "dist holds other files: $others"; fi
expect_exit 0 "dist fsdp_llama --model tiny --dry-run" -- "$bin/benchmarks/fsdp_llama" --model tiny --dry-run
grep -q '^parameters' "$WORK/out" || fail "fsdp_llama --dry-run printed no parameter count"
expect_exit 0 "dist dtbench-launch --help" -- "$bin/launch/dtbench-launch" --help
# The CPU half only, as on a machine without the CUDA toolkit: nothing of libtorch's CUDA
# libraries is linked, and it trains (2 ranks, a tiny Llama, FSDP).
if readelf -d "$bin/benchmarks/fsdp_llama" | grep -qE 'NEEDED.*(torch_cuda|c10_cuda|cudart)'; then
  fail "the CPU build links CUDA libraries: $(readelf -d "$bin/benchmarks/fsdp_llama" | grep -oE '\[lib[a-z0-9_]*cu[a-z0-9_.]*\]' | tr '\n' ' ')"
else
  pass "the CPU build links no CUDA library"
fi
expect_exit 0 "dist fsdp_llama trains on 2 ranks" -- "$MPIRUN_LOCAL" 2 "$bin/benchmarks/fsdp_llama" --model tiny --steps 3
grep -q '^# summary: loss' "$WORK/out" || fail "no summary line: $(tail -1 "$WORK/out")"
finish
