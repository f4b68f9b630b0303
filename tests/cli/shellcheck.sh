#!/usr/bin/env bash
# Every shell script of the repository passes shellcheck: the launch files users run
# (slurm/, launch/, scripts/) at every severity, the tests at warning and above (their
# `check && pass || fail` idiom is the info-level SC2015 on purpose).
source "$(dirname "$0")/../lib.sh"
cd "$DTBENCH_SRC" || exit 2
mapfile -t shipped < <(git ls-files 'slurm/*' 'scripts/*.sh' 'launch/mpirun-local' 'launch/mpirun-hosts' 'tools/results/*.sh' 'benchmarks/peers/*.sh' 'benchmarks/planner/*.sh' .ci/run | grep -v '\.md$')
mapfile -t tests < <(git ls-files 'tests/*.sh')
if shellcheck -x -P SCRIPTDIR "${shipped[@]}" >"$WORK/sc1" 2>&1; then pass "${#shipped[@]} launch and setup scripts"
else fail "launch and setup scripts:"; head -30 "$WORK/sc1"; fi
if shellcheck -x -P SCRIPTDIR -S warning "${tests[@]}" >"$WORK/sc2" 2>&1; then pass "${#tests[@]} test scripts"
else fail "test scripts:"; head -30 "$WORK/sc2"; fi
finish
