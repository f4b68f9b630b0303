#!/usr/bin/env bash
# Straggler attribution across the two nodes of the shared cluster (fsdp_llama, 2 nodes x 2
# ranks by dtbench-launch over the store), RUNS runs of each case (default 3):
#   unperturbed: the record's stragglers is empty and the summary line says "stragglers none";
#   node1 throttled to 20 % of one CPU (a CFS quota in a cgroup): every straggler is on node1,
#   at least one, each with cause compute;
#   node1's link shaped to 16 Mbit/s: every straggler is on node1, at least one, cause network.
# scripts/straggler_hit_rate.sh runs it with RUNS=10 for the hit rates.
# shellcheck source=tests/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
RUNS="${RUNS:-3}"
common=(--model tiny --seq 32 --global-batch 8 --steps 6 --lr 1e-3 --warmup-steps 2 --threads 1 --comm-timeout 120)
cleanup_hooks+=("bash '$CLUSTER' throttle '$DTBENCH_CLUSTER_DIR' node1 clear" "bash '$CLUSTER' shape '$DTBENCH_CLUSTER_DIR' node1 clear")

clean=0
# run NAME: one 2 x 2 run; its record $WORK/NAME.json; rc 0 when both launchers exited 0.
run() {
  launch_nodes "$1" "$(free_port)" -- "$FSDP" "${common[@]}" --out "$WORK/$1.json"
  wait_launchers 240
  # shellcheck disable=SC2154  # codes: set by wait_launchers (tests/cluster/lib.sh)
  [ "${codes[0]}" -eq 0 ] && [ "${codes[1]}" -eq 0 ]
}
# named NAME CAUSE: prints the stragglers; true when there is at least one, all on node1 with CAUSE
# (CAUSE "none": true when there is none).
named() {
  python3 - "$WORK/$1.json" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s, cause = r["stragglers"], sys.argv[2]
scores = ", ".join(f"{p['rank']}:{p['straggler_score']:.2f}" for p in r["per_rank"])
print(f"    stragglers {[(x['rank'], x['host'], round(x['score'], 2), x['cause']) for x in s] or 'none'}; scores {scores}")
if cause == "none":
    sys.exit(0 if not s else 1)
sys.exit(0 if s and all(x["host"] == "node1" and x["cause"] == cause for x in s) else 1)
PY
}

for k in $(seq "$RUNS"); do
  if run "plain$k" && named "plain$k" none && grep -q ", stragglers none$" "$WORK/plain$k.node0.out"; then
    pass "unperturbed, run $k of $RUNS: nobody named"
    clean=$((clean + 1))
  else
    fail "unperturbed, run $k of $RUNS"
  fi
done

# perturbed NAME CAUSE WHAT: RUNS runs with node1 perturbed; the hits in $hits.
perturbed() {
  local k
  hits=0
  for k in $(seq "$RUNS"); do
    if run "$1$k" && named "$1$k" "$2"; then
      pass "$3, run $k of $RUNS: node1 named, cause $2"
      hits=$((hits + 1))
    else
      fail "$3, run $k of $RUNS"
    fi
  done
}
bash "$CLUSTER" throttle "$DTBENCH_CLUSTER_DIR" node1 20
perturbed cpu compute "node1 throttled to 20 % of a CPU"
hits_compute=$hits
bash "$CLUSTER" throttle "$DTBENCH_CLUSTER_DIR" node1 clear

bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" node1 rate=16mbit
perturbed link network "node1's link at 16 Mbit/s"
hits_network=$hits
bash "$CLUSTER" shape "$DTBENCH_CLUSTER_DIR" node1 clear
echo "hit rates: unperturbed named nobody $clean/$RUNS, throttled CPU $hits_compute/$RUNS, shaped link $hits_network/$RUNS"
finish
