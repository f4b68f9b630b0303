#!/usr/bin/env bash
# dtbench-export: a real Pushgateway (Debian's prometheus-pushgateway on 127.0.0.1) receives a
# record's metrics under job/system/benchmark and serves them back; the node_exporter
# textfile is written whole (no temporary left) in the text format; an unreachable
# Pushgateway exits 3.
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/observability/stack.sh
source "$DTBENCH_SRC/tests/observability/stack.sh"  # http_get, wait_ready
EXPORT="$DTBENCH_SRC/tools/dtbench-export"
"$DTBENCH_BIN/benchmarks/fsdp_llama" --model tiny --steps 3 --threads 1 --out "$WORK/run.json" >/dev/null 2>&1 \
  || fail "fsdp_llama run"
port=$(free_port)
prometheus-pushgateway --web.listen-address="127.0.0.1:$port" --persistence.file="$WORK/pg.data" \
  >"$WORK/pg.log" 2>&1 &
pg=$!
cleanup_hooks+=("kill $pg 2>/dev/null; wait $pg 2>/dev/null")
wait_ready "http://127.0.0.1:$port/-/ready" pushgateway "$WORK/pg.log"
expect_exit 0 "push to the Pushgateway" -- "$EXPORT" --pushgateway "http://127.0.0.1:$port" --system cpu-2core \
  --job nightly "$WORK/run.json"
http_get "http://127.0.0.1:$port/metrics" >"$WORK/metrics" || fail "the Pushgateway does not serve /metrics"
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

# A Pushgateway that is down: one line, exit 3, and the textfile is written all the same.
expect_exit 3 "an unreachable Pushgateway" -- "$EXPORT" --pushgateway "http://127.0.0.1:1" --textfile-dir "$WORK/tf2" \
  --system x "$WORK/run.json"
[ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "cannot push to http://127.0.0.1:1" "$WORK/err" \
  && [ -f "$WORK/tf2/dtbench_fsdp_llama.prom" ] && pass "one line; the textfile still written" || fail "$(cat "$WORK/err")"

# Per-rank step times, and the nightly compare's verdicts as gauges (--compare).
cat >"$WORK/verdicts.json" <<JSON
[{"benchmark": "fsdp_llama", "key": "k1", "metric": "step_time_s", "verdict": "regression", "ratio": 1.31},
 {"benchmark": "fsdp_llama", "key": "k1", "metric": "tokens_per_s", "verdict": "ok", "ratio": 1.01},
 {"benchmark": "collectives_perf", "key": "k2", "metric": "busbw_1024", "verdict": "ok", "ratio": 0.98}]
JSON
expect_exit 0 "--compare" -- "$EXPORT" --textfile-dir "$WORK/tf3" --compare "$WORK/verdicts.json" --system s "$WORK/run.json"
prom="$WORK/tf3/dtbench_fsdp_llama.prom"
grep -q '^dtbench_compare_regression{benchmark="fsdp_llama",key="k1",metric="step_time_s",system="s"} 1$' "$prom" \
  && grep -q '^dtbench_compare_regression{benchmark="fsdp_llama",key="k1",metric="tokens_per_s",system="s"} 0$' "$prom" \
  && grep -q '^dtbench_compare_ratio{.*metric="step_time_s".*verdict="regression"} 1.31$' "$prom" \
  && ! grep -q busbw_1024 "$prom" && pass "verdicts: a regression 1, an ok 0, the ratio; only this benchmark's" \
  || { fail "verdict gauges"; grep compare "$prom"; }
[ "$(grep -c '^dtbench_rank_step_time_seconds{.*rank="0".*stat="median"' "$prom")" -eq 1 ] \
  && pass "rank 0's median step time" || fail "per-rank gauges"
[ "$(grep -cE '^dtbench_rank_straggler_score\{.*cause="[a-z]+",host="[^"]+",.*rank="0".*\} 0$' "$prom")" -eq 1 ] \
  && pass "the rank's straggler score, with its cause (none: one rank)" || { fail "straggler gauges"; grep straggler "$prom"; }
promtool check metrics <"$prom" >"$WORK/lint" 2>&1 && pass "promtool check metrics: clean" || { fail "lint"; cat "$WORK/lint"; }
echo '[{"benchmark": "fsdp_llama", "ratio": "x"}]' >"$WORK/bad_verdicts.json"
expect_exit 2 "a malformed --compare file" -- "$EXPORT" --textfile-dir "$WORK/tf4" --compare "$WORK/bad_verdicts.json" \
  --system s "$WORK/run.json"
grep -q "bad_verdicts.json: entry 0: missing or mistyped" "$WORK/err" && pass "it names the file and the entry" \
  || fail "$(cat "$WORK/err")"

# The committed dashboard and ConfigMap are what their definition builds.
expect_exit 0 "dtbench-dashboards build --check" -- "$DTBENCH_SRC/tools/dtbench-dashboards" build --check
finish
