#!/usr/bin/env bash
# dtbench's RoPE frequencies against Hugging Face transformers' for every Llama-family registry
# model (hf_rope_reference.py writes the reference from the published configs; model_tests'
# hidden "[.hf_reference]" case compares).
source "$(dirname "$0")/../lib.sh"
# shellcheck source=scripts/env.sh
source "$DTBENCH_SRC/scripts/env.sh"
if "$DTBENCH_VENV/bin/python" "$DTBENCH_SRC/tests/unit/hf_rope_reference.py" "$WORK/ref.json" >"$WORK/py" 2>&1; then
  pass "reference: $(cat "$WORK/py")"
else
  fail "transformers reference (run scripts/setup.sh):"; sed 's/^/    /' "$WORK/py" | tail -5
fi
if DTBENCH_ROPE_REFERENCE="$WORK/ref.json" "$DTBENCH_BIN/tests/model_tests" "[hf_reference]" >"$WORK/cmp" 2>&1; then
  pass "rope_inv_freq equals transformers' for $(grep -c '^model ' "$WORK/cmp") models"
else
  fail "rope_inv_freq against transformers:"; sed 's/^/    /' "$WORK/cmp" | tail -30
fi
finish
