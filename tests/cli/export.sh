#!/usr/bin/env bash
# dtbench-export: a real Pushgateway (Debian's prometheus-pushgateway on 127.0.0.1) receives a
# record's metrics under job/system/benchmark and serves them back; the node_exporter
# textfile is written whole (no temporary left) in the text format; an unreachable
# Pushgateway exits 3.
source "$(dirname "$0")/../lib.sh"
EXPORT="$DTBENCH_SRC/tools/dtbench-export"
"$DTBENCH_BIN/benchmarks/fsdp_llama" --model tiny --steps 3 --threads 1 --out "$WORK/run.json" >/dev/null 2>&1 \
  || fail "fsdp_llama run"
port=$(free_port)
prometheus-pushgateway --web.listen-address="127.0.0.1:$port" --persistence.file="$WORK/pg.data" \
  >"$WORK/pg.log" 2>&1 &
pg=$!
cleanup_hooks+=("kill $pg 2>/dev/null; wait $pg 2>/dev/null")
fetch() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
for _ in $(seq 100); do fetch "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
expect_exit 0 "push to the Pushgateway" -- "$EXPORT" --pushgateway "http://127.0.0.1:$port" --system cpu-2core \
  --job nightly "$WORK/run.json"
fetch "http://127.0.0.1:$port/metrics" >"$WORK/metrics" || fail "the Pushgateway does not serve /metrics"
if grep -E '^dtbench_tokens_per_second\{.*benchmark="fsdp_llama".*job="nightly".*system="cpu-2core".*\} [0-9.e+]+$' \
  "$WORK/metrics" >/dev/null; then pass "the Pushgateway serves dtbench_tokens_per_second{job, system, benchmark}"
else fail "metrics served: $(grep dtbench "$WORK/metrics" | head -3)"; fi
grep -q '^dtbench_run_ok{.*} 1$' "$WORK/metrics" && pass "dtbench_run_ok 1" || fail "no dtbench_run_ok"

expect_exit 0 "node_exporter textfile" -- "$EXPORT" --textfile-dir "$WORK/textfile" --system cpu-2core "$WORK/run.json"
if [ -f "$WORK/textfile/dtbench_fsdp_llama.prom" ] && [ -z "$(find "$WORK/textfile" -name '*.tmp')" ] &&
  python3 - "$WORK/textfile/dtbench_fsdp_llama.prom" <<'PY'
import re, sys
for line in open(sys.argv[1]):
    assert line.startswith("# HELP ") or line.startswith("# TYPE ") or \
        re.fullmatch(r'[a-z_]+\{([a-z_]+="[^"]*",?)*\} -?[0-9.e+-]+\n', line), line
PY
then pass "textfile whole and in the text format"; else fail "textfile"; fi

expect_exit 3 "an unreachable Pushgateway" -- "$EXPORT" --pushgateway "http://127.0.0.1:1" --system x "$WORK/run.json"
finish
