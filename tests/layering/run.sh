#!/usr/bin/env bash
# The layering check (layers.txt) on this tree and its libraries, and proof that it fails:
# a planted upward #include and a planted upward symbol are each reported.
set -euo pipefail
src="${DTBENCH_SRC:?}" bin="${DTBENCH_BIN:?}"
check="$src/tests/layering/check_layering.py"
libs=(core/libdtbench_report.a=report core/libdtbench_comm.a=comm core/libdtbench_data.a=data
      kernels/libdtbench_kernels.a=kernels core/libdtbench_layers.a=layers core/libdtbench_model.a=model
      core/libdtbench_parallel.a=parallel core/libdtbench_predict.a=predict core/libdtbench_train.a=train core/libdtbench_app.a=app
      core/libdtbench_app_train.a=app)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "=== the tree and its libraries"
python3 "$check" includes "$src"
python3 "$check" symbols "$bin" "${libs[@]}"

echo "=== a planted upward #include (model -> train) is reported"
mkdir -p "$tmp/tree"
cp -r "$src/core" "$src/kernels" "$tmp/tree/"
echo '#include "core/train/trainer.h"' >>"$tmp/tree/core/model/config.h"
rc=0
python3 "$check" includes "$tmp/tree" >"$tmp/includes.out" || rc=$?
cat "$tmp/includes.out"
[ "$rc" -eq 1 ] || { echo "FAIL: exit $rc, want 1"; exit 1; }
grep -q '^core/model/config.h:[0-9]*: layer model includes core/train/trainer.h (layer train)' "$tmp/includes.out" \
  || { echo "FAIL: the planted include is not named"; exit 1; }

echo "=== a planted upward symbol (model needs one of train's) is reported"
# Any function train defines; the object calling it joins a copy of model's library.
sym="$(nm --defined-only --format=posix "$bin/core/libdtbench_train.a" | awk '$2 == "T" && $1 ~ /^_ZN7dtbench/ && !s {s = $1} END {print s}')"
[ -n "$sym" ] || { echo "FAIL: no function found in libdtbench_train.a"; exit 1; }
printf 'extern void %s(void);\nvoid dtbench_planted(void) { %s(); }\n' "$sym" "$sym" >"$tmp/planted.c"
cc -c "$tmp/planted.c" -o "$tmp/planted.o"
mkdir -p "$tmp/bin/core" "$tmp/bin/kernels"
for spec in "${libs[@]}"; do cp "$bin/${spec%%=*}" "$tmp/bin/${spec%%=*}"; done
ar q "$tmp/bin/core/libdtbench_model.a" "$tmp/planted.o"
rc=0
python3 "$check" symbols "$tmp/bin" "${libs[@]}" >"$tmp/symbols.out" || rc=$?
cat "$tmp/symbols.out"
[ "$rc" -eq 1 ] || { echo "FAIL: exit $rc, want 1"; exit 1; }
grep -q "libdtbench_model.a: layer model needs $sym from layer train" "$tmp/symbols.out" \
  || { echo "FAIL: the planted symbol is not named"; exit 1; }
echo "layering: ok"
