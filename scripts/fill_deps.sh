#!/usr/bin/env bash
# Fills the ignored .deps/ folder with the header-only dependencies (nlohmann-json, cxxopts,
# Catch2) unpacked from their Debian packages, for a machine that has CMake and torch but no
# Debian packages and no registry (the bare GPU machine of scripts/gpu_check.sh). Run it on a
# Debian machine that has them, then take .deps/ along. The top-level CMakeLists.txt puts
# .deps on CMAKE_PREFIX_PATH, so .deps holds what the packages put under /usr: include/,
# lib/cmake/, share/cmake/. Idempotent: a filled folder with the same packages is kept.
#   scripts/fill_deps.sh            into <clone>/.deps
#   DEPS_DIR=/tmp/d scripts/fill_deps.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="${DEPS_DIR:-$root/.deps}"
pkgs=(nlohmann-json3-dev libcxxopts-dev catch2)
stamp="$deps/.packages"  # "name version" per package, written last

die() { printf '[fill_deps] FAILED: %s\n' "$*" >&2; exit 1; }
report() { printf '[fill_deps] %s: %s (%s)\n' "$1" "$deps" "$(du -sh "$deps" | cut -f1)"; }

have_all() {
  local p
  [ -f "$stamp" ] || return 1
  for p in "${pkgs[@]}"; do grep -q "^$p " "$stamp" || return 1; done
}
if have_all; then
  report "already filled ($(tr '\n' ' ' <"$stamp"| sed 's/ $//'); delete the folder to refill)"
  exit 0
fi

command -v dpkg-deb >/dev/null || die "dpkg-deb not found: run this on a Debian machine and copy .deps/ over"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/debs" "$tmp/root"
# As root, apt's download sandbox user (_apt) cannot write into our private temp folder.
sandbox=()
[ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
if ! (cd "$tmp/debs" && apt-get -q "${sandbox[@]}" download "${pkgs[@]}") >"$tmp/apt.log" 2>&1; then
  # Offline: the copies apt kept when it installed them, if it did.
  for p in "${pkgs[@]}"; do
    deb="$(find /var/cache/apt/archives -maxdepth 1 -name "${p}_*.deb" | sort -V | tail -1)"
    [ -n "$deb" ] || { sed 's/^/    /' "$tmp/apt.log" >&2; die "apt-get download ${pkgs[*]} (and no $p in /var/cache/apt/archives); run apt-get update"; }
    cp "$deb" "$tmp/debs/"
  done
fi
: >"$tmp/packages"
for deb in "$tmp/debs"/*.deb; do
  dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb"
  dpkg-deb -f "$deb" Package Version | awk '{v[NR] = $2} END {print v[1], v[2]}' >>"$tmp/packages"
done
rm -rf "$tmp/root/usr/share/doc"
for h in nlohmann/json.hpp cxxopts.hpp catch2/catch.hpp; do
  [ -f "$tmp/root/usr/include/$h" ] || die "the packages hold no include/$h"
done
mv "$tmp/packages" "$tmp/root/usr/.packages"
# Staged beside the target and swapped in by renames: an interrupted run leaves no half folder.
mkdir -p "$(dirname "$deps")"
rm -rf "$deps.new" "$deps.old"
mv "$tmp/root/usr" "$deps.new"
[ ! -e "$deps" ] || mv "$deps" "$deps.old"
mv "$deps.new" "$deps"
rm -rf "$deps.old"
report "filled ($(tr '\n' ' ' <"$stamp" | sed 's/ $//'))"
