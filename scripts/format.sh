#!/usr/bin/env bash
# .clang-format over every tracked C++ and CUDA file: rewrites them in place, or with --check
# lists the files that differ (exit 1) and changes nothing. CI runs --check (CTest: style).
#   scripts/format.sh [--check] [ROOT]
set -euo pipefail
check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$root"
fmt=clang-format-14
command -v "$fmt" >/dev/null || { echo "[format] $fmt not found: run scripts/setup.sh" >&2; exit 2; }
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cpp' '*.h' '*.cu' '*.cuh' 2>/dev/null || find . \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) -print | sed 's|^\./||')
if [ "$check" -eq 0 ]; then
  "$fmt" -i --style=file "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$fmt" --style=file "$f" | cmp -s - "$f" || bad+=("$f")
done
if [ "${#bad[@]}" -eq 0 ]; then echo "[format] ${#files[@]} files as .clang-format wants"; exit 0; fi
printf '%s: not as .clang-format wants\n' "${bad[@]}"
echo "[format] ${#bad[@]} of ${#files[@]} files differ: run scripts/format.sh" >&2
exit 1
