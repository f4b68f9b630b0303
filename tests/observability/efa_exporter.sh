#!/usr/bin/env bash
# efa_exporter against the real servers: on a fake sysfs tree with two EFA devices (and one
# RDMA device of another driver, which must not show), its textfile is read by node_exporter's
# textfile collector and scraped by Prometheus; the counters move between two passes (a timer's
# one-shot runs) and Prometheus sees the new values, then again under --interval (the
# DaemonSet's loop). Its systemd units pass systemd-analyze verify; bad flags exit 2.
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/observability/stack.sh
source "$(dirname "$0")/stack.sh"
EXPORTER="$DTBENCH_BIN/tools/efa_exporter"
sysfs="$WORK/sys"
fake_efa_device "$sysfs" rdmap16s27 tx_bytes=1000 rx_bytes=2000 retrans_pkts=0 lifespan=12
fake_efa_device "$sysfs" rdmap32s27 tx_bytes=10 rx_bytes=20 retrans_pkts=0
mkdir -p "$sysfs/class/infiniband/mlx5_0/device" "$sysfs/bus/pci/drivers/mlx5_core"
ln -s ../../../../bus/pci/drivers/mlx5_core "$sysfs/class/infiniband/mlx5_0/device/driver"
export DTBENCH_SYSFS_ROOT="$sysfs"
stack_up || { finish; exit; }

tx='dtbench_efa_hw_total{device="rdmap16s27",hw_counter="tx_bytes",job="node"}'
expect_exit 0 "one pass" -- "$EXPORTER" --textfile-dir "$TEXTFILE_DIR"
promtool check metrics <"$TEXTFILE_DIR/dtbench_efa.prom" >"$WORK/lint" 2>&1 \
  && pass "the textfile passes promtool check metrics" || { fail "promtool check metrics"; cat "$WORK/lint"; }
prom_wait_value "$tx" 1000 && pass "Prometheus sees tx_bytes 1000 through node_exporter" || fail "first value"
prom_wait_value 'dtbench_efa_devices{job="node"}' 2 && pass "2 EFA devices (the mlx5 device is not one)" \
  || fail "device count"
[ -z "$(prom_value 'dtbench_efa_hw_total{hw_counter="lifespan"}')" ] && pass "lifespan (a setting) left out" \
  || fail "lifespan exported"
echo 5000 >"$sysfs/class/infiniband/rdmap16s27/ports/1/hw_counters/tx_bytes"
expect_exit 0 "a second pass after traffic" -- "$EXPORTER" --textfile-dir "$TEXTFILE_DIR"
prom_wait_value "$tx" 5000 && pass "Prometheus sees the new value, 5000" || fail "second value"
[ -n "$(prom_value "increase(${tx}[1m]) > 0")" ] && pass "its increase over the scrapes is positive" \
  || fail "no increase seen"

"$EXPORTER" --textfile-dir "$TEXTFILE_DIR" --interval 0.2 >"$WORK/loop.log" 2>&1 &
loop=$!
cleanup_hooks+=("kill $loop 2>/dev/null")
echo 9000 >"$sysfs/class/infiniband/rdmap16s27/ports/1/hw_counters/tx_bytes"
prom_wait_value "$tx" 9000 && pass "--interval 0.2: the loop picks up 9000" || fail "loop value"
kill "$loop"
[ -z "$(find "$TEXTFILE_DIR" -name '*.tmp*')" ] && pass "no temporary file left" || fail "temporary files left"

# The same reader answers --list, which slurm/common.sh counts: p4d/p5 name EFA devices
# rdmapXsY, so only the driver tells them from other RDMA devices.
[ "$("$EXPORTER" --list | tr '\n' ' ')" = "rdmap16s27 rdmap32s27 " ] && pass "--list: the 2 EFA devices, not mlx5_0" \
  || fail "--list: $("$EXPORTER" --list)"
slurm_env() {  # slurm_env SYSFS: FI_PROVIDER and the log line after slurm/common.sh's dtbench_efa_env
  env -u FI_PROVIDER -u NCCL_SOCKET_IFNAME DTBENCH_SYSFS_ROOT="$1" DTBENCH_BIN="$DTBENCH_BIN" DTBENCH_ROOT="$WORK" \
    bash -c 'source "$1/slurm/common.sh"; dtbench_efa_env; echo "FI_PROVIDER=${FI_PROVIDER:-unset}"' - "$DTBENCH_SRC" 2>&1
}
out=$(slurm_env "$sysfs")
grep -q "EFA: 2 device(s)" <<<"$out" && grep -q "^FI_PROVIDER=efa$" <<<"$out" \
  && pass "slurm/common.sh: 2 rdmap devices found by driver, FI_PROVIDER=efa" || fail "slurm env: $out"
mkdir -p "$WORK/nosys"
out=$(slurm_env "$WORK/nosys")
grep -q "no EFA devices" <<<"$out" && grep -q "^FI_PROVIDER=unset$" <<<"$out" \
  && pass "slurm/common.sh: no EFA, FI_PROVIDER left unset" || fail "slurm env without EFA: $out"

expect_exit 2 "no --textfile-dir" -- "$EXPORTER"
grep -q "textfile-dir DIR is required" "$WORK/err" && pass "it names the missing flag" || fail "message: $(cat "$WORK/err")"
expect_exit 2 "--interval -1" -- "$EXPORTER" --textfile-dir "$TEXTFILE_DIR" --interval -1
touch "$WORK/afile"
expect_exit 2 "a textfile dir that is a file" -- "$EXPORTER" --textfile-dir "$WORK/afile"

# The systemd units as shipped, with ExecStart pointed at this build (verify checks that the
# program exists); any warning fails too (verify exits 0 on an unknown key).
mkdir -p "$WORK/units"
sed "s#/usr/local/bin/efa_exporter#$EXPORTER#" "$DTBENCH_SRC/tools/efa_exporter/efa-exporter.service" \
  >"$WORK/units/efa-exporter.service"
cp "$DTBENCH_SRC/tools/efa_exporter/efa-exporter.timer" "$WORK/units/"
if (cd "$WORK/units" && systemd-analyze verify --man=no ./efa-exporter.timer ./efa-exporter.service) \
  >"$WORK/verify" 2>&1 && ! grep -q "efa-exporter" "$WORK/verify"; then
  pass "systemd-analyze verify: the service and timer load clean"
else fail "systemd-analyze verify"; cat "$WORK/verify"; fi
sed -i 's/^Type=/Typo=/' "$WORK/units/efa-exporter.service"
(cd "$WORK/units" && systemd-analyze verify --man=no ./efa-exporter.service) 2>&1 | grep -q "Unknown key" \
  && pass "negative control: a misspelt key is reported" || fail "verify missed a misspelt key"
finish
