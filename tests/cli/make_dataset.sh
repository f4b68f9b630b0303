#!/usr/bin/env bash
# make_dataset: real text into byte-level flat and indexed datasets that Megatron's reader
# layout accepts; bad input exits 2.
source "$(dirname "$0")/../lib.sh"
MAKE="$DTBENCH_BIN/tools/make_dataset"
text="$DTBENCH_SRC/README.md"

expect_exit 0 "flat" -- "$MAKE" --input "$text" --output "$WORK/flat/readme"
[ "$(stat -c %s "$WORK/flat/readme.bin")" -eq $(( $(stat -c %s "$text") * 2 )) ] || fail "flat: not 2 bytes per input byte"
expect_exit 0 "indexed" -- "$MAKE" --input "$text" --output "$WORK/idx/readme" --format indexed
python3 - "$WORK/idx/readme" "$text" <<'PY' || fail "indexed: layout"
import struct, sys
prefix, text = sys.argv[1], open(sys.argv[2], "rb").read()
idx = open(prefix + ".idx", "rb").read()
assert idx[:9] == b"MMIDIDX\x00\x00"
version, = struct.unpack("<Q", idx[9:17]); code = idx[17]
n, docs = struct.unpack("<QQ", idx[18:34])
assert version == 1 and code == 8, (version, code)
sizes = struct.unpack(f"<{n}i", idx[34:34 + 4 * n])
pointers = struct.unpack(f"<{n}q", idx[34 + 4 * n:34 + 12 * n])
doc_idx = struct.unpack(f"<{docs}q", idx[34 + 12 * n:34 + 12 * n + 8 * docs])
assert sum(sizes) == len(text) and pointers[0] == 0 and doc_idx[0] == 0 and doc_idx[-1] == n
assert n > 10, n  # paragraphs
data = open(prefix + ".bin", "rb").read()
assert bytes(data[0::2]) == text
PY
expect_exit 2 "no --output" -- "$MAKE" --input "$text"
expect_exit 2 "missing input" -- "$MAKE" --input "$WORK/none.txt" --output "$WORK/x"
expect_exit 2 "bad format" -- "$MAKE" --input "$text" --output "$WORK/x" --format arrow
: >"$WORK/empty.txt"
expect_exit 2 "empty input" -- "$MAKE" --input "$WORK/empty.txt" --output "$WORK/x"
finish
