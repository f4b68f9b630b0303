#!/usr/bin/env bash
# scripts/fill_deps.sh fills a folder from the Debian packages (a second run keeps it), and
# CMake finds nlohmann-json, cxxopts and Catch2 there with the system's copies hidden, as on
# the bare GPU machine: a probe project with the top-level CMakeLists.txt's find calls builds
# a program from the folder's headers. The same probe on an empty folder must find nothing,
# else the hiding proves nothing.
source "$(dirname "$0")/../lib.sh"
deps="$WORK/deps"
expect_exit 0 "fill_deps.sh into a scratch folder" -- env DEPS_DIR="$deps" bash "$DTBENCH_SRC/scripts/fill_deps.sh"
sed 's/^/    /' "$WORK/out"
for h in nlohmann/json.hpp cxxopts.hpp catch2/catch.hpp; do
  if [ -f "$deps/include/$h" ]; then pass "include/$h"; else fail "no $deps/include/$h"; fi
done
mib=$(du -sm "$deps" | cut -f1)
if [ "$mib" -le 16 ]; then pass "the folder is small: $mib MiB"; else fail "the folder is $mib MiB, want a few"; fi
expect_exit 0 "a second run" -- env DEPS_DIR="$deps" bash "$DTBENCH_SRC/scripts/fill_deps.sh"
if grep -q 'already filled' "$WORK/out"; then pass "a second run keeps the folder"; else fail "a second run refilled: $(cat "$WORK/out")"; fi

probe="$WORK/probe"
mkdir -p "$probe"
cat >"$probe/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(probe LANGUAGES CXX)
find_package(nlohmann_json REQUIRED)
find_path(CXXOPTS_INCLUDE cxxopts.hpp REQUIRED)
find_package(Catch2 REQUIRED)
get_target_property(json nlohmann_json::nlohmann_json INTERFACE_INCLUDE_DIRECTORIES)
get_target_property(catch Catch2::Catch2 INTERFACE_INCLUDE_DIRECTORIES)
message(STATUS "probe json=${json} cxxopts=${CXXOPTS_INCLUDE} catch2=${catch}")
add_executable(probe probe.cpp)
target_include_directories(probe SYSTEM PRIVATE ${CXXOPTS_INCLUDE})
target_link_libraries(probe PRIVATE nlohmann_json::nlohmann_json Catch2::Catch2)
EOF
cat >"$probe/probe.cpp" <<'EOF'
#include <catch2/catch.hpp>
#include <cxxopts.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
int main(int argc, char** argv) {
  cxxopts::Options options("probe");
  options.add_options()("n", "a number", cxxopts::value<int>()->default_value("3"));
  std::cout << nlohmann::json{{"n", options.parse(argc, argv)["n"].as<int>()}}.dump() << "\n";
}
EOF
# configure PREFIX BUILD: CMake sees PREFIX and nothing of the system's prefixes (so the
# compiler and ninja are named, not searched for).
configure() {
  cmake -S "$probe" -B "$2" -G Ninja -DCMAKE_MAKE_PROGRAM="$(command -v ninja)" \
    -DCMAKE_CXX_COMPILER="$(command -v c++)" -DCMAKE_PREFIX_PATH="$1" -DCMAKE_IGNORE_PREFIX_PATH="/usr;/usr/local" \
    -DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF -DCMAKE_FIND_USE_SYSTEM_ENVIRONMENT_PATH=OFF \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
}
mkdir -p "$WORK/empty"
expect_exit 1 "the probe finds nothing in an empty folder (the system's copies are hidden)" -- \
  configure "$WORK/empty" "$WORK/probe-empty"
grep -q 'nlohmann_json' "$WORK/err" || fail "the empty probe failed for another reason: $(grep -m1 Error "$WORK/err")"
expect_exit 0 "the probe configures from the filled folder" -- configure "$deps" "$WORK/probe-build"
found=$(grep -o 'probe json=.*' "$WORK/out" || true)
elsewhere=$(tr ' ;=' '\n\n\n' <<<"$found" | grep '^/' | grep -vx "$deps/include" || true)
if [[ "$found" == *json=/*cxxopts=/*catch2=/* ]] && [ -z "$elsewhere" ]; then
  pass "nlohmann_json, cxxopts and Catch2 found in the folder"
else fail "found elsewhere: '$found'"; fi
expect_exit 0 "the probe builds" -- cmake --build "$WORK/probe-build"
if "$WORK/probe-build/probe" -n 7 | grep -qx '{"n":7}'; then pass "the probe runs"; else fail "the probe printed no {\"n\":7}"; fi
ninja -C "$WORK/probe-build" -t deps >"$WORK/deps.txt"
if grep -q "$deps/include/nlohmann/json.hpp" "$WORK/deps.txt" && grep -q "$deps/include/cxxopts.hpp" "$WORK/deps.txt" &&
  ! grep -q '/usr/include/nlohmann\|/usr/include/cxxopts\|/usr/include/catch2' "$WORK/deps.txt"; then
  pass "compiled from the folder's headers, none of the system's"
else fail "compiled from other headers:"; grep 'json.hpp\|cxxopts\|catch' "$WORK/deps.txt" | head -5; fi
finish
