#!/usr/bin/env bash
# Checkpoints and resume (ddp_train, tiny Llama, fp32, 2 ranks, 1 thread each):
# - a run killed after step 6 with a checkpoint at step 5, resumed, gives steps 6-10 with
#   losses bitwise identical to the uninterrupted run's;
# - a corrupt newest checkpoint (one flipped byte) and an incomplete one (no .metadata)
#   are reported and skipped, and the run resumes from the one before, bitwise again;
# - a 2-rank checkpoint resumes on 1 rank (same samples; losses to 1e-5 relative);
# - checkpoints crafted to read outside their folder, wrap sizes or block (FIFOs) are
#   reported and skipped;
# - resuming with another global batch exits 2 and names it.
source "$(dirname "$0")/../lib.sh"
train() {
  local np="$1"; shift
  "$MPIRUN_LOCAL" "$np" "$DTBENCH_BIN/benchmarks/ddp_train" --model tiny --steps 10 --global-batch 4 --lr 3e-3 \
    --threads 1 --log-every 100 "$@"
}
# same_losses A B FIRST LAST [RTOL]: losses of 0-based steps FIRST..LAST agree (bitwise by default).
same_losses() { python3 "$DTBENCH_SRC/tests/compare_losses.py" "$1" "$2" "resumed" --steps "$3" "$4" --rtol "${5:-0}"; }

expect_exit 0 "uninterrupted run, checkpoints at 5 and 10" -- train 2 --ckpt-dir "$WORK/a" --ckpt-every 5 --out "$WORK/full.json"
rc=0
DTBENCH_KILL_AFTER_STEP=6 train 2 --ckpt-dir "$WORK/b" --ckpt-every 5 >"$WORK/killed.out" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] && [ -f "$WORK/b/tiny-5steps/.metadata" ] && [ ! -e "$WORK/b/tiny-10steps" ]; then
  pass "run killed after step 6 (exit $rc), checkpoint tiny-5steps complete"
else fail "killed run: exit $rc, checkpoints: $(ls -A "$WORK/b" 2>/dev/null | tr '\n' ' ')"; fi

expect_exit 0 "resume after the kill" -- train 2 --ckpt-dir "$WORK/b" --resume --out "$WORK/resumed.json"
grep -q "resume: $WORK/b/tiny-5steps, continuing after step 5" "$WORK/out" && pass "resumed from tiny-5steps" \
  || fail "resume line missing: $(grep resume "$WORK/out")"
same_losses "$WORK/full.json" "$WORK/resumed.json" 5 9 && pass "steps 6-10 bitwise identical" || fail "resumed losses differ"

# Corrupt the newest checkpoint, plant an incomplete one beyond it.
python3 - "$WORK/a/tiny-10steps/rank00000.bin" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1000); b = f.read(1); f.seek(1000); f.write(bytes([b[0] ^ 0x40]))
PY
mkdir -p "$WORK/a/tiny-15steps" && cp "$WORK/a/tiny-5steps/"rank*.bin "$WORK/a/tiny-15steps/"
expect_exit 0 "resume past a corrupt and an incomplete checkpoint" -- \
  train 2 --ckpt-dir "$WORK/a" --resume --out "$WORK/resumed2.json"
grep -q "tiny-15steps skipped: rank .: incomplete: no .metadata" "$WORK/err" && pass "incomplete checkpoint reported" \
  || fail "no 'incomplete' line: $(grep -i skip "$WORK/err")"
grep -q "tiny-10steps skipped: rank .: .*checksum mismatch" "$WORK/err" && pass "corrupt checkpoint reported" \
  || fail "no 'checksum mismatch' line: $(grep -i skip "$WORK/err")"
same_losses "$WORK/full.json" "$WORK/resumed2.json" 5 9 && pass "resumed from tiny-5steps, steps 6-10 bitwise identical" \
  || fail "losses after skipping differ"

# Crafted checkpoints newer than the good one, each wrong in one way: every one is reported
# and skipped (nothing outside the folder is read, nothing wraps, nothing blocks), and the
# run resumes from tiny-5steps once more.
python3 - "$WORK/a" <<'PY'
import json, os, shutil, sys
root = sys.argv[1]
good = json.load(open(f"{root}/tiny-5steps/.metadata"))
def piece_edit(field, value):
    def edit(meta):
        name = sorted(meta["tensors"])[0]
        meta["tensors"][name]["pieces"][0][field] = value
    return edit
def shape_edit(meta):
    meta["tensors"][sorted(meta["tensors"])[0]]["shape"] = [2**32, 2**32, 2**32]
cases = [("outside", piece_edit("file", "../../../../etc/passwd")), ("absolute", piece_edit("file", "/etc/passwd")),
         ("numel", piece_edit("numel", 2**62)), ("offset", piece_edit("offset", 2**62)),
         ("negative", piece_edit("offset", -8)), ("cols", piece_edit("cols", 0)), ("shape", shape_edit),
         ("crc", piece_edit("crc32c", "x")), ("fifo", None), ("dir", None), ("meta_fifo", None)]
for i, (name, edit) in enumerate(cases):
    d = f"{root}/tiny-{20 + i}steps"
    shutil.copytree(f"{root}/tiny-5steps", d)
    meta = json.loads(json.dumps(good))
    if edit:
        edit(meta)
    json.dump(meta, open(f"{d}/.metadata", "w"))
    if name == "fifo":
        os.unlink(f"{d}/rank00001.bin"); os.mkfifo(f"{d}/rank00001.bin")
    if name == "dir":
        os.unlink(f"{d}/rank00000.bin"); os.mkdir(f"{d}/rank00000.bin")
    if name == "meta_fifo":
        os.unlink(f"{d}/.metadata"); os.mkfifo(f"{d}/.metadata")
PY
expect_exit 0 "resume past 11 crafted checkpoints" -- timeout 120 \
  "$MPIRUN_LOCAL" 2 "$DTBENCH_BIN/benchmarks/ddp_train" --model tiny --steps 10 --global-batch 4 --lr 3e-3 \
  --threads 1 --log-every 100 --ckpt-dir "$WORK/a" --resume --out "$WORK/resumed3.json"
for want in '20steps.*file "../../../../etc/passwd", not a rank' '21steps.*file "/etc/passwd", not a rank' \
  "22steps.*'numel' is 4611686018427387904, not an integer in" "23steps.*is truncated: .* needs bytes \\[4611686018427387904" \
  "24steps.*'offset' is -8" "25steps.*'cols' is 0" "26steps.*has more than .* elements" \
  "27steps.*'crc32c' is \"x\"" "28steps.*rank00001.bin: not a regular file" \
  "29steps.*rank00000.bin: not a regular file" "30steps.*.metadata: not a regular file"; do
  grep -q "tiny-${want}" "$WORK/err" && pass "crafted: tiny-${want}" || fail "crafted: no line matching 'tiny-$want'"
done
grep -q "resume: $WORK/a/tiny-5steps" "$WORK/out" && pass "crafted: resumed from tiny-5steps" \
  || fail "crafted: resumed from $(grep resume: "$WORK/out")"

expect_exit 0 "resume the 2-rank checkpoint on 1 rank" -- train 1 --ckpt-dir "$WORK/b" --resume --out "$WORK/one.json"
same_losses "$WORK/full.json" "$WORK/one.json" 5 9 1e-5 && pass "1 rank continues the 2-rank run" \
  || fail "1-rank resume differs"

expect_exit 2 "resume with another global batch" -- train 2 --ckpt-dir "$WORK/b" --resume --global-batch 8
grep -q "written with global_batch 4, this run has 8" "$WORK/err" && pass "the mismatch is named" \
  || fail "message: $(tail -1 "$WORK/err")"
expect_exit 2 "--resume without --ckpt-dir" -- train 1 --resume
finish
