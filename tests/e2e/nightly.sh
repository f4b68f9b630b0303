#!/usr/bin/env bash
# The nightly flow end to end on this CPU machine, tiny configs, 2 repetitions, twice: the
# first night writes the baselines (2 runs per key), the second compares with them (a Markdown
# table), both append to the history, the second writes a report whose plots are valid PNG files and whose HTML
# references only local files, and pushes its figures to a real Pushgateway (127.0.0.1)
# and a node_exporter textfile.
source "$(dirname "$0")/../lib.sh"
NIGHTLY="$DTBENCH_SRC/scripts/nightly.sh"
port=$(free_port)
prometheus-pushgateway --web.listen-address="127.0.0.1:$port" --persistence.file="$WORK/pg.data" \
  >"$WORK/pg.log" 2>&1 &
pg=$!
cleanup_hooks+=("kill $pg 2>/dev/null; wait $pg 2>/dev/null")
expect_exit 0 "night 1: baselines" -- "$NIGHTLY" --system cpu-2core --repetitions 2 --results "$WORK/results" \
  --out "$WORK/n1" --update-baseline
n=$(find "$WORK/results/baselines/cpu-2core" -name '*.json' | wc -l)
[ "$n" -eq 20 ] && pass "20 baselines (7 collectives, fsdp, ddp, megatron; 2 runs each)" || fail "$n baselines"
# Night 2 runs from a clone path and a results path with spaces (links to the same trees).
ln -s "$DTBENCH_SRC" "$WORK/a clone"
ln -s "$WORK/results" "$WORK/results dir"
rc=0
"$WORK/a clone/scripts/nightly.sh" --system cpu-2core --repetitions 2 --results "$WORK/results dir" --out "$WORK/n2" \
  --pushgateway "http://127.0.0.1:$port" \
  --textfile-dir "$WORK/textfile" >"$WORK/n2.out" 2>"$WORK/n2.err" || rc=$?
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
python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
  "http://127.0.0.1:$port/metrics" >"$WORK/metrics"
grep -q 'dtbench_tokens_per_second{.*benchmark="fsdp_llama".*job="nightly".*system="cpu-2core"' "$WORK/metrics" \
  && grep -q 'dtbench_busbw_gbytes_per_second{.*benchmark="collectives_perf"' "$WORK/metrics" \
  && pass "the Pushgateway holds the night's figures" || fail "Pushgateway: $(grep -c dtbench "$WORK/metrics") dtbench lines"
[ -f "$WORK/textfile/dtbench_fsdp_llama.prom" ] && pass "node_exporter textfile" || fail "no textfile"
finish
