#!/usr/bin/env bash
# Data files a user names, crafted to hurt: each class with several inputs, each exit 2 with
# one line naming the file before any training (or exit 3 naming it, when it changes during
# the run), never a hang, a bad_alloc or a signal.
#   not regular   a FIFO, /dev/zero and a folder as --data, as make_dataset --input
#   index sizes   .idx headers claiming 2^39 or 2^41 sequences or documents in a few bytes, or
#                 ending inside their arrays
#   shrinking     a token file truncated while 2 ranks train on it: exit 3 naming it
source "$(dirname "$0")/../lib.sh"
TRAIN="$DTBENCH_BIN/benchmarks/fsdp_llama"
text_dataset "$WORK/flat"
mkfifo "$WORK/fifo"
mkdir "$WORK/folder"
# refused CODE WHAT NAMED -- COMMAND...: exit CODE within 60 s, stderr names NAMED, no crash text
refused() {
  local want="$1" what="$2" named="$3"
  shift 4
  expect_exit "$want" "$what" -- timeout 60 "$@"
  if grep -qF -- "$named" "$WORK/err" && ! grep -qE "bad_alloc|Segmentation|Bus error|terminate called" "$WORK/err"
  then pass "$what: names $named"; else fail "$what: stderr: $(tail -2 "$WORK/err")"; fi
}
for f in "$WORK/fifo" /dev/zero "$WORK/folder"; do
  refused 2 "--data $(basename "$f")" "$f" -- "$TRAIN" --model tiny --steps 1 --threads 1 --data "$f"
  refused 2 "make_dataset --input $(basename "$f")" "$f" -- \
    "$DTBENCH_BIN/tools/make_dataset" --input "$f" --output "$WORK/never"
done

# index headers: magic, version 1, dtype code 8 (uint16), then the counts
header() {  # header PATH SEQUENCES DOCUMENTS [EXTRA_BYTES]
  python3 - "$@" <<'PY'
import struct, sys
path, n, docs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
extra = int(sys.argv[4]) if len(sys.argv) > 4 else 0
open(path, "wb").write(b"MMIDIDX\x00\x00" + struct.pack("<QBQQ", 1, 8, n, docs) + b"\x00" * extra)
PY
}
for c in "2^39 sequences:$((1 << 39)):1:64" "2^41 sequences:$((1 << 41)):1:64" "2^39 documents:1:$((1 << 39)):64" \
  "ends inside the sizes:4:2:10" "ends inside the document index:1:2:13"; do
  IFS=: read -r what n docs extra <<<"$c"
  cp "$WORK/flat.bin" "$WORK/crafted.bin"
  header "$WORK/crafted.idx" "$n" "$docs" "$extra"
  refused 2 ".idx claiming $what" "$WORK/crafted.idx" -- \
    "$TRAIN" --model tiny --steps 1 --threads 1 --data "$WORK/crafted.bin"
done

# A token file that shrinks while two ranks read it.
cp "$WORK/flat.bin" "$WORK/shrinks.bin"
"$MPIRUN_LOCAL" 2 "$TRAIN" --model tiny --steps 100000 --threads 1 --log-every 1 --seq 64 \
  --data "$WORK/shrinks.bin" >"$WORK/run.out" 2>"$WORK/run.err" &
job=$!
cleanup_hooks+=("kill $job 2>/dev/null")
for _ in $(seq 600); do grep -q "^Batch 3 " "$WORK/run.out" 2>/dev/null && break; sleep 0.1; done
truncate -s 0 "$WORK/shrinks.bin"
wait_exit "$job" 120
if [ "$rc" -eq 3 ] && grep -q "shrinks.bin: it ends at byte" "$WORK/run.err" &&
  ! grep -qE "Bus error|SIGBUS|signal" "$WORK/run.err"; then pass "a token file truncated while training: exit 3 naming it"
else fail "truncated while training: exit $rc; $(grep -v '^\[' "$WORK/run.err" | tail -3)"; fi
finish
