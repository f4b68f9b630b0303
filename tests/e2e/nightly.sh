#!/usr/bin/env bash
# The nightly flow end to end on this CPU machine, tiny configs, 2 repetitions, twice: the
# first night writes the baselines (2 runs per key), the second compares with them (a Markdown
# table), both append to the history, the second writes a report whose plots are valid PNG files and whose HTML
# references only local files, and feeds the monitoring stack (tests/observability/stack.sh:
# a real Pushgateway, node_exporter and Prometheus on 127.0.0.1) while efa_exporter writes a
# fake node's moving EFA counters; then every panel of the Grafana dashboard (results/grafana)
# returns series with its legend's labels from that Prometheus. A Pushgateway that is down
# costs the night its push, not its record.
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/observability/stack.sh
source "$DTBENCH_SRC/tests/observability/stack.sh"
NIGHTLY="$DTBENCH_SRC/scripts/nightly.sh"
DASHBOARDS="$DTBENCH_SRC/tools/dtbench-dashboards"
stack_up || { finish; exit; }
expect_exit 0 "night 1: baselines" -- "$NIGHTLY" --system cpu-2core --repetitions 2 --results "$WORK/results" \
  --out "$WORK/n1" --update-baseline
n=$(find "$WORK/results/baselines/cpu-2core" -name '*.json' | wc -l)
[ "$n" -eq 20 ] && pass "20 baselines (7 collectives, fsdp, ddp, megatron; 2 runs each)" || fail "$n baselines"
# Night 2 runs from a clone path and a results path with spaces (links to the same trees).
ln -s "$DTBENCH_SRC" "$WORK/a clone"
ln -s "$WORK/results" "$WORK/results dir"
# A fake EFA node beside it: its counters move while efa_exporter rewrites the textfile.
fake_efa_device "$WORK/sys" rdmap16s27 tx_bytes=0 rx_bytes=0 rdma_read_bytes=0 rdma_write_bytes=0 retrans_pkts=0
( n=0; hw="$WORK/sys/class/infiniband/rdmap16s27/ports/1/hw_counters"
  while :; do n=$((n + 65536))
    for c in tx_bytes rx_bytes rdma_read_bytes rdma_write_bytes; do echo "$n" >"$hw/$c.new" && mv "$hw/$c.new" "$hw/$c"; done
    echo $((n / 65536)) >"$hw/retrans_pkts.new" && mv "$hw/retrans_pkts.new" "$hw/retrans_pkts"; sleep 0.2; done ) &
cleanup_hooks+=("kill $! 2>/dev/null")
DTBENCH_SYSFS_ROOT="$WORK/sys" "$DTBENCH_BIN/tools/efa_exporter" --textfile-dir "$TEXTFILE_DIR" --interval 0.5 \
  >"$WORK/efa_exporter.log" 2>&1 &
cleanup_hooks+=("kill $! 2>/dev/null")
rc=0
"$WORK/a clone/scripts/nightly.sh" --system cpu-2core --repetitions 2 --results "$WORK/results dir" --out "$WORK/n2" \
  --pushgateway "$PUSHGATEWAY" \
  --textfile-dir "$TEXTFILE_DIR" >"$WORK/n2.out" 2>"$WORK/n2.err" || rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ]; then
  pass "night 2: compared (exit $rc, $(grep -c '| regression |' "$WORK/n2/compare.md") regression(s), $(grep -c '| noisy |' "$WORK/n2/compare.md") noisy)"
else fail "night 2: exit $rc"; tail -5 "$WORK/n2.err"; fi
grep -q "^| record | metric | baseline | now | ratio" "$WORK/n2/compare.md" && pass "comparison table" || fail "no table"
lines=$(cat "$WORK/results/history/cpu-2core/"*.jsonl | wc -l)
[ "$lines" -eq 40 ] && pass "history: 40 records over 2 nights" || fail "history holds $lines records"
python3 - "$WORK/n2/report" <<'PY' && pass "report: valid PNG plots, local references only, links reach their sections" || fail "report"
import os, re, sys
d = sys.argv[1]
page = open(os.path.join(d, "index.html")).read()
refs = re.findall(r'(?:src|href)=["\']([^"\']+)', page)
files = [r for r in refs if not r.startswith("#")]
assert files and all("://" not in r and not r.startswith("//") and os.path.exists(os.path.join(d, r)) for r in files), refs
assert all(f"id='{r[1:]}'" in page for r in refs if r.startswith("#")), "a link to a missing section"
pngs = [f for f in os.listdir(d) if f.endswith(".png")]
assert len(pngs) >= 10, pngs
for f in pngs:
    assert open(os.path.join(d, f), "rb").read(8) == b"\x89PNG\r\n\x1a\n", f
PY
http_get "$PUSHGATEWAY/metrics" >"$WORK/metrics"
grep -q 'dtbench_tokens_per_second{.*benchmark="fsdp_llama".*job="nightly".*system="cpu-2core"' "$WORK/metrics" \
  && grep -q 'dtbench_busbw_gbytes_per_second{.*benchmark="collectives_perf"' "$WORK/metrics" \
  && grep -q 'dtbench_compare_ratio{.*metric="step_time_s"' "$WORK/metrics" \
  && pass "the Pushgateway holds the night's figures and the compare verdicts" \
  || fail "Pushgateway: $(grep -c dtbench "$WORK/metrics") dtbench lines"
[ -f "$TEXTFILE_DIR/dtbench_fsdp_llama.prom" ] && pass "node_exporter textfile" || fail "no textfile"

# The dashboard against this Prometheus once it has scraped the push (1 s scrapes) and a few
# passes of efa_exporter; $__rate_interval 4 s (4 scrape intervals, as Grafana sets it).
for _ in $(seq 60); do [ -n "$(prom_value 'dtbench_compare_ratio{job="nightly"}')" ] && break; sleep 0.5; done
sleep 5
rc=0
"$DASHBOARDS" check --prometheus "$PROMETHEUS" --since 900 --rate-interval 4s >"$WORK/check.out" 2>&1 || rc=$?
panels=$(python3 -c 'import json,sys; print(sum(p["type"] != "row" for p in json.load(open(sys.argv[1]))["panels"]))' \
  "$DTBENCH_SRC/results/grafana/dtbench-nightly.json")
if [ "$rc" -eq 0 ] && [ "$(grep -c '^ok   panel' "$WORK/check.out")" -eq "$panels" ]; then
  pass "dashboard: all $panels panels return series with their legend's labels"
else fail "dashboard check: exit $rc"; grep -v '^ok' "$WORK/check.out"; fi
# The check can fail: a panel whose query finds nothing is named.
python3 - "$DTBENCH_SRC/results/grafana/dtbench-nightly.json" "$WORK/broken.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = next(p for p in d["panels"] if p.get("title") == "MFU")
p["targets"][0]["expr"] = p["targets"][0]["expr"].replace("dtbench_mfu", "dtbench_mfu_misspelt")
json.dump(d, open(sys.argv[2], "w"))
PY
expect_exit 4 "a dashboard with a misspelt metric" -- "$DASHBOARDS" check --prometheus "$PROMETHEUS" --since 900 \
  --rate-interval 4s --dashboard "$WORK/broken.json"
grep -q "^FAIL panel 'MFU': .*no series" "$WORK/out" && pass "the empty panel is named" || fail "$(grep FAIL "$WORK/out")"
expect_exit 3 "Prometheus down" -- "$DASHBOARDS" check --prometheus "http://127.0.0.1:1"
[ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "cannot reach Prometheus at http://127.0.0.1:1" "$WORK/err" \
  && pass "one line names the Prometheus" || fail "$(cat "$WORK/err")"

# A night whose Pushgateway is down: exit 3, one line naming it; its record, history line,
# report and textfile are all there (a baseline night, so that no verdict can change its exit).
rc=0
"$NIGHTLY" --system cpu-2core --repetitions 1 --benchmarks fsdp_llama --results "$WORK/results3" --out "$WORK/n3" \
  --date 2026-01-03 --pushgateway "http://127.0.0.1:1" --textfile-dir "$WORK/n3.textfile" \
  --update-baseline >"$WORK/n3.out" 2>"$WORK/n3.err" || rc=$?
if [ "$rc" -eq 3 ] && [ "$(grep -c "cannot push to http://127.0.0.1:1" "$WORK/n3.err")" -eq 1 ] &&
  [ -f "$WORK/n3/fsdp_llama.r1.json" ] && [ -f "$WORK/results3/history/cpu-2core/2026-01-03.jsonl" ] &&
  [ -f "$WORK/n3/report/index.html" ] && [ -f "$WORK/n3.textfile/dtbench_fsdp_llama.prom" ]; then
  pass "Pushgateway down: exit 3, one line, record, history, report and textfile kept"
else fail "Pushgateway down: exit $rc"; tail -3 "$WORK/n3.err"; fi
finish
