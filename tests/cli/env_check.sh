#!/usr/bin/env bash
# env_check on this machine (no GPU, no EFA): a valid record, plain warnings, exit 0; unmet
# expectations exit 4 and list them; on a fake p5.48xlarge sysfs tree (DMI + 32 EFA devices)
# the instance table, the memlock rule and the environment rules apply; across two ranks
# whose nodes differ, the difference is flagged.
source "$(dirname "$0")/../lib.sh"
ENVCHECK="$DTBENCH_BIN/benchmarks/env_check"
VALIDATE="$DTBENCH_SRC/tools/dtbench-validate"
unset FI_PROVIDER NCCL_NET NCCL_PROTO NCCL_ALGO NCCL_DEBUG NCCL_SOCKET_IFNAME FI_EFA_FORK_SAFE FI_EFA_USE_DEVICE_RDMA

verdict() {  # verdict RECORD CHECK: prints the check's verdict ("missing" when absent)
  python3 -c 'import json,sys; c=[x for x in json.load(open(sys.argv[1]))["checks"] if x["name"]==sys.argv[2]]; print(c[0]["verdict"] if c else "missing")' "$1" "$2"
}
want() {  # want RECORD CHECK VERDICT
  local got; got=$(verdict "$1" "$2")
  if [ "$got" = "$3" ]; then pass "$(basename "$1" .json): $2 is $3"; else fail "$(basename "$1" .json): $2 is $got, want $3"; fi
}

expect_exit 0 "this machine, no expectations" -- "$ENVCHECK" --collectives --out "$WORK/here.json"
"$VALIDATE" "$WORK/here.json" >/dev/null && pass "record valid" || fail "record invalid"
want "$WORK/here.json" gpus warn
want "$WORK/here.json" efa_devices ok
want "$WORK/here.json" "nccl collectives" warn
grep -q "no GPU visible" "$WORK/out" && pass "no GPU said plainly" || fail "no-GPU line missing"

expect_exit 4 "--expect gpus=8 here" -- "$ENVCHECK" --expect gpus=8 --out "$WORK/gpus.json"
grep -q "1 check(s) failed: expect gpus (expected 8 GPUs, 0 visible)" "$WORK/err" && pass "the failed expectation is listed" \
  || { fail "failure list"; cat "$WORK/err"; }
want "$WORK/gpus.json" "expect gpus" fail
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$WORK/gpus.json")" = failed ] \
  && pass "record status failed" || fail "record status"
expect_exit 2 "--expect with an unknown key" -- "$ENVCHECK" --expect cpus=8
expect_exit 2 "--expect an instance not in the table" -- "$ENVCHECK" --expect instance=x9.huge

# A fake p5.48xlarge: DMI names it, 32 EFA devices.
sysfs="$WORK/sys"
mkdir -p "$sysfs/devices/virtual/dmi/id"
echo "Amazon EC2" >"$sysfs/devices/virtual/dmi/id/sys_vendor"
echo "p5.48xlarge" >"$sysfs/devices/virtual/dmi/id/product_name"
for i in $(seq 0 31); do fake_efa_device "$sysfs" "rdmap${i}s0"; done
expect_exit 4 "fake p5: --expect instance=p5.48xlarge" -- env DTBENCH_SYSFS_ROOT="$sysfs" FI_PROVIDER=tcp \
  FI_EFA_FORK_SAFE=1 NCCL_SOCKET_IFNAME=nosuch0 NCCL_PROTO=simple \
  bash -c "ulimit -l 8192; exec '$ENVCHECK' --expect instance=p5.48xlarge --out '$WORK/p5.json'"
want "$WORK/p5.json" "expect instance" ok
want "$WORK/p5.json" "expect efa" ok
want "$WORK/p5.json" "expect gpus" fail
want "$WORK/p5.json" memlock_kib fail
want "$WORK/p5.json" "env FI_PROVIDER" fail
want "$WORK/p5.json" "env FI_EFA_FORK_SAFE" warn
want "$WORK/p5.json" "env NCCL_SOCKET_IFNAME" fail
want "$WORK/p5.json" "env NCCL_PROTO" warn
want "$WORK/p5.json" nccl_net_plugin fail
want "$WORK/p5.json" libfabric_providers fail
grep -q "memlock_kib (EFA needs an unlimited" "$WORK/err" && pass "fake p5: failures listed on one line" \
  || { fail "fake p5: failure line"; cat "$WORK/err"; }

# Two ranks whose "nodes" differ: rank 1 sees the fake EFA devices, rank 0 none.
mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader,tcp --mca btl_tcp_if_include lo \
  --mca oob_tcp_if_include lo -np 1 "$ENVCHECK" --out "$WORK/two.json" : \
  -np 1 -x DTBENCH_SYSFS_ROOT="$sysfs" "$ENVCHECK" --out "$WORK/two.json" >"$WORK/two.out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && pass "two differing ranks: nonzero exit ($rc)" || fail "two differing ranks: exit 0"
want "$WORK/two.json" "efa_devices differs" fail
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["launch"]["world_size"]==2; d=[c for c in r["checks"] if c["name"]=="efa_devices differs"][0]; assert "rank 1" in d["detail"] and "32" in d["detail"], d' \
  "$WORK/two.json" && pass "the difference names rank 1 and its 32 devices" || fail "difference detail"
finish
