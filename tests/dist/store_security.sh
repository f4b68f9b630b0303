#!/usr/bin/env bash
# The TCP store against outsiders and against ranks that disagree (core/comm/store_auth.h):
#   - its server listens on the rendezvous address only;
#   - ranks with the job token finish; a rank with another token, a value overwritten by a
#     client without the token, and ranks that disagree on a buffer size are exit 3 on every
#     rank, naming the store key, within the comm timeout;
#   - a client that guesses key names changes nothing;
#   - no token with a rendezvous beyond loopback is exit 2 before anything connects.
# The stray client is libtorch's own TCPStore client (Python), as anyone on the network has it.
source "$(dirname "$0")/../lib.sh"
# shellcheck source=scripts/env.sh
source "$DTBENCH_SRC/scripts/env.sh"
PROBE="$DTBENCH_BIN/tests/store_probe"
py="$DTBENCH_VENV/bin/python"
timeout_s=8
limit=$((timeout_s + 10))
token() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

# world NAME N PORT SECONDS [R:VAR=VALUE | R:--flag=value ...]: N ranks of store_probe, each
# with the environment and flags given for its rank R.
world() {
  local name="$1" n="$2" port="$3" seconds="$4" r e
  shift 4
  pids=()
  for ((r = 0; r < n; r++)); do
    local envs=("RANK=$r" "WORLD_SIZE=$n" "LOCAL_RANK=$r" "LOCAL_WORLD_SIZE=$n" MASTER_ADDR=127.0.0.1 "MASTER_PORT=$port")
    local flags=()
    for e in "$@"; do
      [ "${e%%:*}" = "$r" ] || continue
      case "${e#*:}" in --*) flags+=("${e#*:}") ;; *) envs+=("${e#*:}") ;; esac
    done
    env -u DTBENCH_JOB_TOKEN -u DTBENCH_JOB_TOKEN_FILE "${envs[@]}" "$PROBE" --seconds "$seconds" \
      --comm-timeout "$timeout_s" --run-dir "$WORK/run-$name" "${flags[@]}" >"$WORK/$name.$r.out" 2>"$WORK/$name.$r.err" &
    pids+=($!)
    cleanup_hooks+=("kill -KILL $! 2>/dev/null")
  done
}
wait_ready() {  # wait_ready NAME N
  for _ in $(seq 300); do
    [ "$(cat "$WORK/$1".*.out 2>/dev/null | grep -c ready)" -eq "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
# expect_all NAME CODE PATTERN: every rank exits CODE within the limit, its stderr matching PATTERN.
expect_all() {
  local r rc
  for r in "${!pids[@]}"; do
    wait_exit "${pids[$r]}" "$limit"
    kill -KILL "${pids[$r]}" 2>/dev/null || true
    if [ "$rc" -eq "$2" ]; then pass "$1: rank $r exits $2"; else fail "$1: rank $r exit $rc, want $2"; cat "$WORK/$1.$r.err"; fi
    if [ -z "$3" ] || grep -qE "$3" "$WORK/$1.$r.err"; then [ -z "$3" ] || pass "$1: rank $r says: $(grep -oE "$3" "$WORK/$1.$r.err" | head -1)"
    else fail "$1: rank $r's message does not match '$3': $(cat "$WORK/$1.$r.err")"; fi
  done
}

echo "=== the server listens on the rendezvous address only"
port=$(free_port)
t=$(token)
world listen 2 "$port" 4 "0:DTBENCH_JOB_TOKEN=$t" "1:DTBENCH_JOB_TOKEN=$t"
wait_ready listen 2 || fail "listen: the ranks did not start"
python3 - "$port" >"$WORK/listen.addrs" <<'PY'
import sys
port = int(sys.argv[1])
for f, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
    for line in open(f).read().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, p = local.split(":")
        if state == "0A" and int(p, 16) == port:  # LISTEN
            if width == 8:
                print(".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)))
            else:
                print("v6:" + addr)
PY
if [ "$(sort -u "$WORK/listen.addrs")" = 127.0.0.1 ]; then pass "listen: port $port on 127.0.0.1 only"
else fail "listen: port $port listens on: $(tr '\n' ' ' <"$WORK/listen.addrs")"; fi
expect_all listen 0 ""

echo "=== the token from a file on one rank, from the variable on the other"
t=$(token)
printf '%s\n' "$t" >"$WORK/token"
chmod 600 "$WORK/token"
world file 2 "$(free_port)" 2 "0:DTBENCH_JOB_TOKEN_FILE=$WORK/token" "1:DTBENCH_JOB_TOKEN=$t"
expect_all file 0 ""

echo "=== a rank with another token"
world other 2 "$(free_port)" 30 "0:DTBENCH_JOB_TOKEN=$(token)" "1:DTBENCH_JOB_TOKEN=$(token)"
expect_all other 3 "rank [01]'s greeting fails its authentication: the ranks were given different DTBENCH_JOB_TOKENs"

echo "=== ranks that disagree on a buffer size"
world sizes 3 "$(free_port)" 30 0:--bytes=8 1:--bytes=8 2:--bytes=9
expect_all sizes 3 "store key '[^']*' at 127.0.0.1:[0-9]+: rank [0-9] sent [89] bytes where [89] were expected"

echo "=== a client without the token: guessed key names change nothing"
port=$(free_port)
t=$(token)
world guess 2 "$port" 3 "0:DTBENCH_JOB_TOKEN=$t" "1:DTBENCH_JOB_TOKEN=$t"
wait_ready guess 2 || fail "guess: the ranks did not start"
"$py" - "$port" <<'PY' || fail "guess: the stray client failed"
import datetime, sys
import torch.distributed as dist
s = dist.TCPStore("127.0.0.1", int(sys.argv[1]), is_master=False, timeout=datetime.timedelta(seconds=10),
                  wait_for_workers=False)
for prefix in ("dtbench/world", "world", "dtbench/world/s0c0"):
    for r in range(300):
        for k in range(2):
            s.set(f"{prefix}/ag{r}/{k}", b"forged")
PY
expect_all guess 0 ""

echo "=== a client without the token overwrites what it lists: every rank exits 3"
port=$(free_port)
world overwrite 2 "$port" 60 "0:DTBENCH_JOB_TOKEN=$t" "1:DTBENCH_JOB_TOKEN=$t"
wait_ready overwrite 2 || fail "overwrite: the ranks did not start"
kill -STOP "${pids[1]}"  # rank 0 now waits in an exchange, its own value in the store
sleep 0.5
"$py" - "$port" >"$WORK/overwrite.client" <<'PY' || fail "overwrite: the stray client failed"
import datetime, os, sys
import torch.distributed as dist
s = dist.TCPStore("127.0.0.1", int(sys.argv[1]), is_master=False, timeout=datetime.timedelta(seconds=10),
                  wait_for_workers=False)
keys = [k for k in s.list_keys() if k.startswith("dtbench/")]
for i, k in enumerate(keys):  # a short value, a long one, one of the right framing size
    s.set(k, os.urandom((40, 1 << 20, 41)[i % 3]))
print(f"overwrote {len(keys)} keys")
PY
kill -CONT "${pids[1]}"
pass "overwrite: $(cat "$WORK/overwrite.client")"
expect_all overwrite 3 "store key '[^']*' (fails its authentication|claims [0-9]+ bytes but holds [0-9]+|holds [0-9]+ bytes)|beyond --comm-timeout|timed out"
if grep -qE "store key '[^']*' (fails its authentication|claims|holds)" "$WORK"/overwrite.*.err; then
  pass "overwrite: a rank names the altered key"
else
  fail "overwrite: no rank names the altered key: $(cat "$WORK"/overwrite.*.err)"
fi

echo "=== no token and a rendezvous beyond loopback: exit 2 before anything connects"
expect_exit 2 "no token, MASTER_ADDR=192.0.2.1" -- env -u DTBENCH_JOB_TOKEN -u DTBENCH_JOB_TOKEN_FILE RANK=0 \
  WORLD_SIZE=2 LOCAL_RANK=0 LOCAL_WORLD_SIZE=2 MASTER_ADDR=192.0.2.1 MASTER_PORT=29999 "$PROBE" --seconds 1
if grep -q "DTBENCH_JOB_TOKEN is not set, and the TCP store at 192.0.2.1" "$WORK/err"; then
  pass "no token: the line names the cause"
else
  fail "no token: $(cat "$WORK/err")"
fi
expect_exit 2 "a token of 5 characters" -- env DTBENCH_JOB_TOKEN=short RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 \
  LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29999 "$PROBE" --seconds 1
finish
