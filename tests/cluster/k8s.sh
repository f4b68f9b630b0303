#!/usr/bin/env bash
# The Kubernetes launch contract of k8s/megatron.yaml with each pod a node of the virtual
# cluster: the Indexed Job's container command runs on node0 and node1 with the environment
# the cluster would inject (CPU overrides: 2 ranks per pod, tp 2 inside a pod, dp across the
# pods), and the rendezvous name megatron-0.megatron appears in the nodes' hosts files only
# 3 s after the pods started, written in place (a bind-mounted file keeps its inode), as a
# headless Service's record does. Training completes; the record names both hosts.
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/env.sh
source "$DTBENCH_SRC/scripts/env.sh"
export PATH="$DTBENCH_BIN/launch:$DTBENCH_BIN/benchmarks:$PATH"
name_line="$(bash "$CLUSTER" addr node0) megatron-0.megatron"
drop_name() {  # the hosts files as they were, rewritten in place
  local k f
  for k in 0 1; do
    f="$DTBENCH_CLUSTER_DIR/node$k/hosts"
    grep -vxF "$name_line" "$f" >"$WORK/hosts.tmp" || true
    cat "$WORK/hosts.tmp" >"$f"
  done
}
cleanup_hooks+=(drop_name)
inodes() { stat -c %i "$DTBENCH_CLUSTER_DIR"/node[01]/hosts | tr '\n' ' '; }
before="$(inodes)"
(
  sleep 3
  for k in 0 1; do printf '%s\n' "$name_line" >>"$DTBENCH_CLUSTER_DIR/node$k/hosts"; done
) &
late=$!
rc=0
"$DTBENCH_VENV/bin/python" "$DTBENCH_SRC/tests/e2e/k8s/run_pods.py" "$DTBENCH_SRC/k8s/megatron.yaml" \
  --cluster "$DTBENCH_CLUSTER_DIR" "dtbench-job-token/token:=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" \
  NPROC_PER_NODE=2 DEVICE=cpu RESULTS_DIR="$WORK/megatron" MASTER_PORT="$(free_port)" RENDEZVOUS_TIMEOUT=60 \
  MODEL=tiny TP=2 PP=1 STEPS=5 GLOBAL_BATCH=4 >"$WORK/pods.out" 2>&1 || rc=$?
wait "$late"
[ "$(inodes)" = "$before" ] && pass "the name was added in place (hosts files keep their inodes)" ||
  fail "hosts files replaced: inodes $before -> $(inodes)"
if [ "$rc" -eq 0 ] && python3 - "$WORK/megatron/result.json" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "ok" and r["launch"]["source"] == "dtbench-launch", r["launch"]
assert r["launch"]["nodes"] == 2 and r["launch"]["world_size"] == 4, r["launch"]
assert [(p["rank"], p["host"]) for p in r["per_rank"]] == [(0, "node0"), (1, "node0"), (2, "node1"), (3, "node1")]
PY
  pass "megatron.yaml: pods on node0 and node1 (2 ranks each, tp 2, dp 2) trained; the record names both hosts"
else fail "megatron.yaml on the cluster: exit $rc"; sed 's/^/    /' "$WORK/pods.out"; fi
for k in 0 1; do
  grep -q "rendezvous host megatron-0.megatron does not resolve yet" "$WORK/megatron/pod$k.log" &&
    pass "pod $k (node$k) retried the rendezvous name until it resolved" || fail "pod $k: no retry of the name seen"
done
finish
