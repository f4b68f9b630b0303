#!/usr/bin/env bash
# The AWS Batch requests of aws-batch/, offline: botocore's own validator (RegisterJobDefinition,
# SubmitJob; no AWS call) and our checks on top accept the shipped files, and refuse broken
# copies naming the field: a wrong type, an unknown field, a main node out of range, a node in
# no range, no EFA device, NPROC_PER_NODE not the GPUs asked for, the job token in plain text.
# (The launch contract runs for real on the virtual cluster: tests/cluster/batch.sh.)
source "$(dirname "$0")/../lib.sh"
# shellcheck source=scripts/env.sh
source "$DTBENCH_SRC/scripts/env.sh"
py="$DTBENCH_VENV/bin/python"
dir="$DTBENCH_SRC/aws-batch"
expect_exit 0 "the shipped requests validate" -- "$py" "$dir/validate.py" "$dir/fsdp_llama.json" "$dir/collectives.json" \
  "$dir/submit_fsdp_llama.json"
[ "$(grep -c '^ok ' "$WORK/out")" -eq 3 ] && pass "3 requests: $(grep -o 'RegisterJobDefinition\|SubmitJob' "$WORK/out" | sort | uniq -c | tr -s ' \n' ' ')" ||
  fail "ok lines: $(cat "$WORK/out")"

# broken NAME FIELD PYTHON: a copy of fsdp_llama.json changed by PYTHON (on `d`, the request
# and `c`, its container) is refused with one line naming FIELD.
broken() {
  local name="$1" field="$2" change="$3"
  "$py" - "$dir/fsdp_llama.json" "$WORK/$name.json" "$change" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["nodeProperties"]["nodeRangeProperties"][0]["container"]
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
PY
  expect_exit 1 "refused: $name" -- "$py" "$dir/validate.py" "$WORK/$name.json"
  grep -qF -- "$field" "$WORK/out" && pass "$name: $(head -1 "$WORK/out" | sed "s|$WORK/||")" ||
    fail "$name: want '$field' in: $(cat "$WORK/out")"
}
broken wrong_type "nodeProperties.numNodes" 'd["nodeProperties"]["numNodes"] = "two"'
broken unknown_field "Unknown parameter in nodeProperties.nodeRangeProperties[0].container: \"gpus\"" 'c["gpus"] = 8'
broken main_node "nodeProperties.mainNode: 5 is not a node of 0..1" 'd["nodeProperties"]["mainNode"] = 5'
broken uncovered "nodes [1] are in no range" 'd["nodeProperties"]["nodeRangeProperties"][0]["targetNodes"] = "0"'
broken no_efa "linuxParameters.devices: no EFA device" 'c["linuxParameters"]["devices"] = []'
broken nproc "NPROC_PER_NODE 4 is not the GPUs asked for (8)" \
  'c["environment"] = [e if e["name"] != "NPROC_PER_NODE" else dict(e, value="4") for e in c["environment"]]'
broken token_in_env "DTBENCH_JOB_TOKEN in plain text" \
  'c["environment"].append({"name": "DTBENCH_JOB_TOKEN", "value": "x" * 32})'
finish
