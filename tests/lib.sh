# shellcheck shell=bash
# Helpers for the bash tests: where the binaries are, checks that fail loudly, cleanup.
set -euo pipefail
: "${DTBENCH_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${DTBENCH_BIN:=$DTBENCH_SRC/build}"
# shellcheck disable=SC2034  # used by the scripts that source this file
MPIRUN_LOCAL="$DTBENCH_SRC/launch/mpirun-local"
# shellcheck disable=SC2034
COLLPERF="$DTBENCH_BIN/benchmarks/collectives_perf"
WORK="$(mktemp -d /tmp/dtbench-test.XXXXXX)"
FAILED=0
PASSED=0
cleanup_hooks=()
on_exit() {
  local h
  for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
  rm -rf "$WORK"
}
trap on_exit EXIT

pass() { PASSED=$((PASSED + 1)); printf 'ok   %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }

# expect_exit CODE DESCRIPTION -- COMMAND...: runs it, checks the exit code, keeps stderr in $WORK/err.
expect_exit() {
  local want="$1" what="$2"
  shift 3
  local rc=0
  "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  if [ "$rc" -eq "$want" ]; then pass "$what (exit $rc)"; else
    fail "$what: exit $rc, want $want"; sed 's/^/    /' "$WORK/err" | head -5; fi
}

# wait_exit PID SECONDS: waits up to SECONDS for PID (a child of this shell) to end; sets rc to
# its exit code, 124 when it still runs.
rc=0
wait_exit() {
  rc=124
  for _ in $(seq $(($2 * 10))); do
    if ! kill -0 "$1" 2>/dev/null; then wait "$1" && rc=0 || rc=$?; return 0; fi
    sleep 0.1
  done
}

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The pid of the process of `rank` among the processes whose command line matches `pattern`
# and, given `ancestor`, that descend from it (a job's own ranks, not a previous job's that
# are still exiting).
pid_of_rank() {
  local pattern="$1" rank="$2" ancestor="${3:-}" pid up
  for pid in $(pgrep -f "$pattern"); do
    if [ -n "$ancestor" ]; then
      up="$pid"
      while [ -n "$up" ] && [ "$up" -gt 1 ] && [ "$up" != "$ancestor" ]; do
        up=$(awk '{print $4}' "/proc/$up/stat" 2>/dev/null)
      done
      [ "$up" = "$ancestor" ] || continue
    fi
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx -e "OMPI_COMM_WORLD_RANK=$rank" -e "RANK=$rank"; then
      echo "$pid"; return 0
    fi
  done
  return 1
}

# compare_losses REF RUN LABEL [compare_losses.py options]: per-step losses agree, else a failure.
compare_losses() { python3 "$DTBENCH_SRC/tests/compare_losses.py" "$@" || fail "$3: losses differ"; }

# text_dataset PREFIX [make_dataset options]: byte-level tokens of this repository's own text
# (README, architecture document and headers) at PREFIX.bin: real text with no tokenizer download.
text_dataset() {
  local prefix="$1"
  shift
  cat "$DTBENCH_SRC/README.md" "$DTBENCH_SRC/docs/ARCHITECTURE.md" "$DTBENCH_SRC"/core/*/*.h >"$prefix.txt"
  "$DTBENCH_BIN/tools/make_dataset" --input "$prefix.txt" --output "$prefix" "$@" >/dev/null
}

# fake_efa_device SYSFS NAME [COUNTER=VALUE ...]: an EFA device in a fake sysfs tree (for
# DTBENCH_SYSFS_ROOT) as the kernel shows one: class/infiniband/NAME, its device's driver a
# link to bus/pci/drivers/efa, and port 1's hw_counters holding the given values.
fake_efa_device() {
  local sysfs="$1" dev="$1/class/infiniband/$2" kv
  shift 2
  mkdir -p "$dev/device" "$dev/ports/1/hw_counters" "$sysfs/bus/pci/drivers/efa"
  ln -sfn ../../../../bus/pci/drivers/efa "$dev/device/driver"
  for kv in "$@"; do echo "${kv#*=}" >"$dev/ports/1/hw_counters/${kv%%=*}"; done
}

finish() {
  printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
  [ "$FAILED" -eq 0 ]
}

# bf16_against_fp32 EXE LABEL [options]: 30 steps on real text on 2 ranks in fp32 and in bf16
# mixed precision: the bf16 losses stay within bf16's error of fp32's and fall by more than
# 0.5 nat; the MFU peak is the bf16 one.
bf16_against_fp32() {
  local exe="$1" label="$2"
  shift 2
  [ -f "$WORK/bf16text.bin" ] || text_dataset "$WORK/bf16text"
  local run_args=(--data "$WORK/bf16text.bin" --seq 64 --global-batch 8 --steps 30 --lr 3e-3 --threads 1 "$@")
  expect_exit 0 "$label: 2 ranks, fp32 on text" -- "$MPIRUN_LOCAL" 2 "$exe" "${run_args[@]}" --out "$WORK/$label-32.json"
  expect_exit 0 "$label: 2 ranks, bf16 on text" -- "$MPIRUN_LOCAL" 2 "$exe" "${run_args[@]}" --dtype bf16 \
    --out "$WORK/$label-16.json"
  compare_losses "$WORK/$label-32.json" "$WORK/$label-16.json" "$label: bf16 against fp32 (bf16's precision)" --rtol 3e-2
  python3 - "$WORK/$label-16.json" <<'PY' && pass "$label: bf16 learns" || fail "$label: bf16 does not learn, or wrong record"
import json, sys
r = json.load(open(sys.argv[1]))
l = [s["loss"] for s in r["steps"]]
assert sum(l[-5:]) / 5 < sum(l[:5]) / 5 - 0.5, l
assert "bf16" in r["metrics"]["peak_source"], r["metrics"]["peak_source"]
PY
}
