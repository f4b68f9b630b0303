#!/usr/bin/env bash
# dtbench-launch, the local launcher: rank variables, prefixed output, two "nodes" on this
# machine, an Indexed Job's variables (and flags that contradict them), a failing rank stops
# the others and its code is the exit code, SIGTERM reaches every rank; and fsdp_llama started
# by it (store backend) gives the losses of one process.
source "$(dirname "$0")/../lib.sh"
LAUNCH="$DTBENCH_BIN/launch/dtbench-launch"
FSDP="$DTBENCH_BIN/benchmarks/fsdp_llama"
show='echo "rank $RANK/$WORLD_SIZE local $LOCAL_RANK/$LOCAL_WORLD_SIZE node $GROUP_RANK at $MASTER_ADDR:$MASTER_PORT"'

expect_exit 0 "3 ranks print their variables" -- "$LAUNCH" --nproc-per-node 3 --master-port 29999 -- bash -c "$show"
for r in 0 1 2; do
  grep -qx "\[$r\] rank $r/3 local $r/3 node 0 at 127.0.0.1:29999" "$WORK/out" || fail "rank $r line: $(cat "$WORK/out")"
done
[ "$(wc -l <"$WORK/out")" -eq 3 ] && pass "one prefixed line per rank" || fail "output: $(cat "$WORK/out")"

# Two launchers as two nodes; then a Kubernetes Indexed Job's node variables.
port=$(free_port)
"$LAUNCH" --nnodes 2 --node-rank 1 --nproc-per-node 2 --master-port "$port" -- bash -c "$show" >"$WORK/n1" 2>&1 &
expect_exit 0 "node 0 of 2" -- "$LAUNCH" --nnodes 2 --node-rank 0 --nproc-per-node 2 --master-port "$port" -- bash -c "$show"
wait
grep -qx "\[3\] rank 3/4 local 1/2 node 1 at 127.0.0.1:$port" "$WORK/n1" && pass "node 1 runs ranks 2-3" || fail "node 1: $(cat "$WORK/n1")"
expect_exit 0 "Indexed Job pod 1 of 2" -- env JOB_COMPLETION_INDEX=1 NNODES=2 NPROC_PER_NODE=2 MASTER_ADDR=127.0.0.1 \
  "$LAUNCH" -- bash -c "$show"
grep -q "^\[2\] rank 2/4 local 0/2 node 1 at 127.0.0.1:" "$WORK/out" && pass "indexed job: node 1's first rank is 2" \
  || fail "indexed job: $(cat "$WORK/out")"
# Flags that contradict the scheduler's node variables: exit 2, one line naming both.
for flags in "--nnodes 3 --node-rank 1:--nnodes 3 but indexed-job says the job has 2 nodes" \
  "--nnodes 2 --node-rank 0:--node-rank 0 but indexed-job says this is node 1"; do
  expect_exit 2 "dtbench-launch ${flags%%:*} in pod 1 of 2" -- env JOB_COMPLETION_INDEX=1 NNODES=2 NPROC_PER_NODE=2 \
    MASTER_ADDR=127.0.0.1 "$LAUNCH" ${flags%%:*} -- true
  [ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -qF -- "${flags#*:}" "$WORK/err" && pass "names both: $(cat "$WORK/err")" ||
    fail "message: $(cat "$WORK/err")"
done

# A rank that fails stops the others; its exit code is the launcher's.
# The sleepers' duration is unique to this test run, so that no other process on the machine
# can look like one left behind.
start=$SECONDS
naps="299.$$"
expect_exit 7 "rank 1 exits 7" -- "$LAUNCH" --nproc-per-node 3 -- bash -c '[ "$RANK" = 1 ] && exit 7; exec sleep "$1"' - "$naps"
left="$(pgrep -af "sleep $naps" || true)"
[ $((SECONDS - start)) -lt 60 ] && [ -z "$left" ] && pass "the other ranks were stopped" \
  || fail "ranks left running or slow stop: $((SECONDS - start)) s; left: $left"

# SIGTERM to the launcher reaches every rank: fsdp_llama's ranks name the op and exit 3.
"$LAUNCH" --nproc-per-node 2 --master-port "$(free_port)" -- "$FSDP" --model tiny --steps 100000 --threads 1 \
  --comm-timeout 30 >"$WORK/term.out" 2>"$WORK/term.err" &
pid=$!
cleanup_hooks+=("kill -KILL $pid 2>/dev/null")
for _ in $(seq 300); do grep -qs "Batch 2 " "$WORK/term.out" && break; sleep 0.1; done
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
if [ "$rc" -eq 3 ] && [ "$(grep -c "exit 3\|SIGTERM\|Terminated" "$WORK/term.err")" -ge 2 ]; then pass "SIGTERM: ranks stopped, exit 3"
else fail "SIGTERM: exit $rc"; tail -5 "$WORK/term.err"; fi

# fsdp_llama through the launcher (store backend, no MPI): the losses of one process.
common=(--model tiny --seq 32 --global-batch 12 --steps 6 --lr 1e-3 --threads 1)
expect_exit 0 "fsdp_llama, 1 process" -- "$FSDP" "${common[@]}" --backend mpi --out "$WORK/ref.json"
expect_exit 0 "fsdp_llama, 3 ranks by dtbench-launch" -- "$LAUNCH" --nproc-per-node 3 --master-port "$(free_port)" -- \
  "$FSDP" "${common[@]}" --out "$WORK/l3.json"
grep -q "launch dtbench-launch, strategy fsdp" "$WORK/out" || fail "header: $(grep '# fsdp' "$WORK/out")"
python3 "$DTBENCH_SRC/tests/compare_losses.py" "$WORK/ref.json" "$WORK/l3.json" "3 ranks, store backend" \
  || fail "launcher run: losses differ"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["launch"]["source"]=="dtbench-launch", r["launch"]' \
  "$WORK/l3.json" || fail "record: launch source"

# NSYS (the k8s manifests' switch; launch/nsys-wrap): without nsys, NSYS=1 is exit 2 with one
# line before any rank starts; NSYS=optional warns once and runs; another value is exit 2.
nsys_path="$(dirname "$(command -v python3)"):/usr/bin:/bin"  # no nsys on it, whatever the machine has
expect_exit 2 "NSYS=1 without nsys" -- env PATH="$nsys_path" NSYS=1 "$LAUNCH" --nproc-per-node 2 -- touch "$WORK/ran"
[ ! -e "$WORK/ran" ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "NSYS=1 but nsys is not on PATH" "$WORK/err" \
  && pass "no rank started; one line" || fail "NSYS=1: $(cat "$WORK/err")"
expect_exit 0 "NSYS=optional without nsys" -- env PATH="$nsys_path" NSYS=optional "$LAUNCH" --nproc-per-node 2 -- \
  touch "$WORK/ran"
[ -e "$WORK/ran" ] && [ "$(grep -c "NSYS=optional and no nsys" "$WORK/err")" -eq 1 ] && pass "one warning, ranks ran" \
  || fail "NSYS=optional: $(cat "$WORK/err")"
expect_exit 2 "NSYS=yes" -- env NSYS=yes "$LAUNCH" --nproc-per-node 1 -- true

expect_exit 2 "no program" -- "$LAUNCH" --nproc-per-node 2
expect_exit 2 "unknown flag" -- "$LAUNCH" --nprocs 2 -- true
grep -q "unknown flag" "$WORK/err" || fail "message: $(cat "$WORK/err")"
finish
