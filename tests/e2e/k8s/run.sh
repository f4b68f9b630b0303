#!/usr/bin/env bash
# The Kubernetes manifests, offline: every manifest against the Kubernetes and CRD schemas
# (strict; validate_manifests.py), and the launch contract of megatron.yaml and fsdp.yaml:
# the container command of each of their 2 pods run as local processes with the
# environment the cluster would inject and CPU overrides, the rendezvous name resolved to
# 127.0.0.1 inside a private mount namespace; it appears only after the pods have started
# (the bootstrap must retry name resolution). Training completes and writes its record.
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=scripts/env.sh
source "$DTBENCH_SRC/scripts/env.sh"
py="$DTBENCH_VENV/bin/python"
here="$DTBENCH_SRC/tests/e2e/k8s"
if "$py" "$here/validate_manifests.py" >"$WORK/validate.out" 2>&1; then pass "schemas: $(grep -c '^ok' "$WORK/validate.out") checks"
else fail "schemas:"; grep -v '^ok' "$WORK/validate.out" | head -20; fi

[ "$(id -u)" -eq 0 ] || { echo "skipped: the launch contract needs unshare -m (root)"; finish; exit $?; }
export PATH="$DTBENCH_BIN/launch:$DTBENCH_BIN/benchmarks:$PATH"
contract() {  # contract NAME OVERRIDES...
  local name="$1"
  shift
  printf '127.0.0.1 localhost\n' >"$WORK/hosts.$name"
  (sleep 3; printf '127.0.0.1 %s-0.%s\n' "$name" "$name" >>"$WORK/hosts.$name") &
  # The Secret that `kubectl create secret generic dtbench-job-token` would hold.
  if "$py" "$here/run_pods.py" "$DTBENCH_SRC/k8s/$name.yaml" "$WORK/hosts.$name" \
    "dtbench-job-token/token:=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" NPROC_PER_NODE=1 DEVICE=cpu \
    RESULTS_DIR="$WORK/$name" MASTER_PORT="$(free_port)" RENDEZVOUS_TIMEOUT=60 "$@" >"$WORK/$name.out" 2>&1 \
    && python3 - "$WORK/$name/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "ok" and r["launch"]["world_size"] == 2 and r["launch"]["source"] == "dtbench-launch", r["launch"]
assert r["metrics"]["loss_last"] > 0
PY
  then pass "$name.yaml: 2 pods trained and wrote the record"
  else fail "$name.yaml launch contract:"; cat "$WORK/$name.out"; fi
  grep -q "does not resolve yet" "$WORK/$name"/pod*.log && pass "$name.yaml: the rendezvous name was retried until it resolved" \
    || fail "$name.yaml: no retry of the rendezvous name seen"
  wait
}
contract megatron MODEL=tiny TP=2 PP=1 STEPS=5 GLOBAL_BATCH=4
contract fsdp MODEL=tiny STEPS=5 GLOBAL_BATCH=4
finish
