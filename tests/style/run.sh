#!/usr/bin/env bash
# The tree is formatted as .clang-format says (scripts/format.sh --check), and the check fails
# on a planted misformatted file, naming it.
set -euo pipefail
src="${DTBENCH_SRC:?}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "=== the tree"
bash "$src/scripts/format.sh" --check "$src"

echo "=== a planted misformatted file is reported"
mkdir -p "$tmp/tree/core"
cp "$src/.clang-format" "$tmp/tree/"
cp "$src/core/report/log.cpp" "$tmp/tree/core/"
printf 'int   planted( int a ){return a;}\n' >>"$tmp/tree/core/log.cpp"
git -C "$tmp/tree" init -q && git -C "$tmp/tree" add -A
rc=0
bash "$src/scripts/format.sh" --check "$tmp/tree" >"$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
[ "$rc" -eq 1 ] || { echo "FAIL: exit $rc, want 1"; exit 1; }
grep -qx 'core/log.cpp: not as .clang-format wants' "$tmp/out" || { echo "FAIL: the planted file is not named"; exit 1; }
echo "ok: all checks passed"
