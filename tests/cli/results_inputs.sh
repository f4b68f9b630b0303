#!/usr/bin/env bash
# The results tools against crafted records (tests/cli/results_inputs.py says which classes),
# starting from two real records: a 2-rank fsdp_llama run and a 2-rank collectives sweep.
source "$(dirname "$0")/../lib.sh"
# shellcheck source=scripts/env.sh
source "$DTBENCH_SRC/scripts/env.sh"
"$MPIRUN_LOCAL" 2 "$DTBENCH_BIN/benchmarks/fsdp_llama" --model tiny --steps 4 --threads 1 --out "$WORK/train.json" \
  >/dev/null 2>&1 || fail "fsdp_llama run"
"$MPIRUN_LOCAL" 2 "$COLLPERF" -b 8 -e 1K -f 4 -n 3 --out "$WORK/coll.json" >/dev/null 2>&1 || fail "collectives run"
mkdir "$WORK/t"
if "$DTBENCH_VENV/bin/python" "$DTBENCH_SRC/tests/cli/results_inputs.py" "$WORK/t" "$WORK/train.json" "$WORK/coll.json"
then pass "results tools against crafted records"; else fail "results tools against crafted records"; fi
finish
