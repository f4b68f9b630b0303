#!/usr/bin/env bash
# fabric_perf over libfabric's tcp (loopback) and shm providers: every size checked, zero
# wrong bytes, a valid record; bad input exits 2 before communication; a hung peer makes the
# other rank exit 3 within the comm timeout.
source "$(dirname "$0")/../lib.sh"
FABRIC="$DTBENCH_BIN/benchmarks/fabric_perf"
VALIDATE="$DTBENCH_SRC/tools/dtbench-validate"
if [ ! -x "$FABRIC" ]; then fail "fabric_perf not built (libfabric-dev missing at configure time?)"; finish; fi
export FI_TCP_IFACE=lo  # tcp stays on loopback

for prov in tcp shm; do
  out="$WORK/$prov.json"
  if "$MPIRUN_LOCAL" 2 "$FABRIC" --provider "$prov" -b 8 -e 1M -f 4 -n 10 -w 2 --out "$out" >"$WORK/$prov.out" 2>&1 \
    && "$VALIDATE" "$out" >/dev/null; then
    pass "$prov: ran, record valid"
  else
    fail "$prov: run or record failed"; tail -20 "$WORK/$prov.out"; continue
  fi
  python3 - "$out" "$prov" <<'PY' && pass "$prov: 11 sizes, zero wrong bytes, latency and bandwidth positive" || fail "$prov: record content"
import json, sys
r = json.load(open(sys.argv[1]))
rows = r["rows"]
assert [x["size_bytes"] for x in rows] == [8 * 4**k for k in range(11) if 8 * 4**k <= 1 << 20], rows
assert all(x["wrong"] == 0 for x in rows)
assert all(x["latency_us"]["median"] > 0 and x["bw_gbps"] > 0 and x["bibw_gbps"] > 0 for x in rows)
assert r["metrics"]["wrong"] == 0 and r["system"]["fabric"]["provider"].split(";")[0] == sys.argv[2]
PY
  grep -q "# Wrong bytes : 0 OK" "$WORK/$prov.out" && pass "$prov: table says OK" || fail "$prov: no OK line"
done

expect_exit 2 "unknown provider" -- "$MPIRUN_LOCAL" 2 "$FABRIC" --provider nosuch
grep -q "providers here: .*shm" "$WORK/err" && pass "unknown provider: the providers here are listed" \
  || fail "unknown provider: message lacks the list"
expect_exit 2 "three ranks" -- "$MPIRUN_LOCAL" 3 "$FABRIC" --provider shm
expect_exit 2 "window 0" -- "$MPIRUN_LOCAL" 2 "$FABRIC" --provider shm --window 0
expect_exit 2 "-e beyond the node's memory" -- "$MPIRUN_LOCAL" 2 "$FABRIC" --provider tcp -b 8 -e 1000G

# A hung peer: rank 1 stopped mid-run; rank 0 exits 3 within the comm timeout.
"$MPIRUN_LOCAL" 2 "$FABRIC" --provider shm -b 64K -e 64K -n 100000000 --comm-timeout 5 >"$WORK/hang.out" 2>"$WORK/hang.err" &
job=$!
cleanup_hooks+=("kill -KILL $job 2>/dev/null; pkill -KILL -f '$FABRIC' 2>/dev/null")
for _ in $(seq 300); do grep -q '(B)' "$WORK/hang.out" 2>/dev/null && break; sleep 0.1; done
victim=$(pid_of_rank "$FABRIC" 1 "$job") || fail "hang: rank 1 not found"
kill -STOP "$victim"
wait_exit "$job" 20  # sets rc
# shellcheck disable=SC2154  # rc: set by wait_exit (tests/lib.sh)
kill -KILL "$victim" 2>/dev/null || true
if [ "$rc" -eq 3 ]; then pass "hung peer: exit 3"; else fail "hung peer: exit $rc, want 3"; tail -5 "$WORK/hang.err"; fi
grep -q "comm-timeout 5 s" "$WORK/hang.err" && pass "hung peer: the message names the timeout" \
  || { fail "hung peer: no timeout message"; tail -5 "$WORK/hang.err"; }
finish
