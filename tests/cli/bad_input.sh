#!/usr/bin/env bash
# Bad input: exit 2 and one line naming the cause and the fix, before any communication.
source "$(dirname "$0")/../lib.sh"

bad() {  # bad DESCRIPTION WORD-IN-MESSAGE ARGS...
  local what="$1" word="$2"
  shift 2
  expect_exit 2 "$what" -- "$COLLPERF" "$@"
  local lines
  lines=$(wc -l <"$WORK/err")
  if [ "$lines" -ne 1 ]; then fail "$what: $lines lines on stderr, want 1"; sed 's/^/    /' "$WORK/err"; fi
  if ! grep -q -- "$word" "$WORK/err"; then fail "$what: message lacks '$word': $(cat "$WORK/err")"; fi
}

bad "zero size" "positive" -b 0 -e 8
bad "reversed sizes" "reversed" -b 1M -e 8
bad "unknown op" "unknown collective" --op allreduce
bad "unknown dtype" "unknown or unsupported datatype" -d uint32
bad "unknown reduction" "unknown reduction" -o xor
bad "-i with -f" "not both" -b 8 -e 64 -i 8 -f 2
bad "step factor below 2" "below 2" -b 8 -e 64 -f 1
bad "-i 0 without -f" "zero step" -b 8 -e 64 -i 0
bad "zero iterations" "at least one timed iteration" -n 0
bad "a backend not built or unknown" "unknown backend" --backend gloo
bad "an absent device" "no CUDA device" --device cuda
bad "nccl on cpu" "CUDA tensors" --backend nccl --device cpu
bad "mpi on cuda" "CPU tensors" --backend mpi --device cuda
bad "a root outside the world" "no rank 3" --op broadcast -r 3
bad "an unknown flag" "see --help" --no-such-flag
bad "a stray argument" "unexpected argument" all_reduce
bad "half a launch" "--world-size" --rank 1
bad "bad --tag" "key=value" --tag novalue
bad "mpi backend without mpirun" "mpirun" --backend mpi --rank 0 --world-size 2 --master-port 1

# Under mpirun: every rank finds the error before MPI starts; the job exits 2.
expect_exit 2 "bad input under mpirun" -- "$MPIRUN_LOCAL" 2 "$COLLPERF" -b 0
grep -q "positive" "$WORK/err" || fail "under mpirun: no cause in stderr"

# --help is not an error.
expect_exit 0 "--help" -- "$COLLPERF" --help
grep -q -- "--stepfactor" "$WORK/out" || fail "--help lacks -f"
finish
