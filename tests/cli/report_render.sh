#!/usr/bin/env bash
# dtbench-report as a reader sees it: real records (collectives_perf and fsdp_llama on 2 ranks,
# 2 runs each), their baselines, two dated nights of history and a compare table make a report
# that headless Chromium (Debian's) renders: every image loads (none broken), every link of the
# compare table reaches its section, the verdicts carry their colors, the per-rank step-time
# heat map has ink, a traced run's step timeline is drawn, and the page's screenshot is not blank.
source "$(dirname "$0")/../lib.sh"
# shellcheck source=scripts/env.sh
source "$DTBENCH_SRC/scripts/env.sh"
py="$DTBENCH_VENV/bin/python"
TOOLS="$DTBENCH_SRC/tools"
command -v chromium >/dev/null || { fail "chromium is not installed: run scripts/setup.sh"; finish; }
mkdir -p "$WORK/now" "$WORK/base"
for k in 1 2; do
  for side in base now; do
    "$MPIRUN_LOCAL" 2 "$DTBENCH_BIN/benchmarks/collectives_perf" -b 1K -e 256K -f 4 -n 5 -w 1 \
      --out "$WORK/$side/coll.r$k.json" >/dev/null 2>&1 || fail "collectives_perf ($side $k)"
    "$MPIRUN_LOCAL" 2 "$DTBENCH_BIN/benchmarks/fsdp_llama" --model tiny --seq 32 --global-batch 4 --steps 6 \
      --threads 1 --log-every 100 --out "$WORK/$side/fsdp.r$k.json" >/dev/null 2>&1 || fail "fsdp_llama ($side $k)"
  done
done
"$TOOLS/dtbench-compare" --baselines "$WORK/baselines/cpu-2core" --update-baseline "$WORK"/base/*.json >/dev/null ||
  fail "baselines"
# Two nights of history, a day apart (the records' started_at dates the nights).
mkdir -p "$WORK/history"
for night in 1 2; do
  "$py" - "$WORK/night$night" "$night" "$WORK"/now/*.json <<'PY'
import datetime, json, os, sys
out, night = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
for path in sys.argv[3:]:
    r = json.load(open(path))
    day = datetime.date(2026, 12, 1) + datetime.timedelta(days=night)
    r["started_at"] = day.isoformat() + r["started_at"][10:]
    json.dump(r, open(os.path.join(out, os.path.basename(path)), "w"))
PY
  (cd "$TOOLS/results" && "$py" history.py "$WORK/history/night$night.jsonl" cpu-2core "$WORK/night$night"/*.json) ||
    fail "history night $night"
done
rc=0
"$TOOLS/dtbench-compare" --baselines "$WORK/baselines/cpu-2core" --repetitions 2 "$WORK"/now/*.json \
  >"$WORK/compare.md" 2>/dev/null || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || fail "compare: exit $rc"
expect_exit 0 "dtbench-report" -- "$TOOLS/dtbench-report" --out "$WORK/report" --history "$WORK/history" \
  --baselines "$WORK/baselines/cpu-2core" --compare "$WORK/compare.md" "$WORK"/now/*.json

# The page with a probe that, once loaded, writes on <body> what a reader would notice.
probe="<script>window.addEventListener('load', () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
  const dead = [...document.querySelectorAll('a[href^=\"#\"]')].filter(a => !document.getElementById(a.hash.slice(1)));
  const colored = [...document.querySelectorAll('td[class^=\"v-\"]')]
    .filter(td => getComputedStyle(td).backgroundColor !== 'rgba(0, 0, 0, 0)');
  document.body.dataset.images = document.images.length; document.body.dataset.broken = broken.length;
  document.body.dataset.links = document.querySelectorAll('a[href^=\"#\"]').length; document.body.dataset.dead = dead.length;
  document.body.dataset.colored = colored.length; document.body.dataset.verdicts = document.querySelectorAll('td[class^=\"v-\"]').length;
});</script>"
python3 -c 'import sys; page = open(sys.argv[1]).read(); open(sys.argv[2], "w").write(page.replace("</body>", sys.argv[3] + "</body>"))' \
  "$WORK/report/index.html" "$WORK/report/probe.html" "$probe"
chrome=(chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-dev-shm-usage --user-data-dir="$WORK/chrome")
timeout 120 "${chrome[@]}" --virtual-time-budget=5000 --dump-dom "file://$WORK/report/probe.html" >"$WORK/dom.html" \
  2>"$WORK/chrome.err" || fail "chromium --dump-dom: exit $?; $(tail -2 "$WORK/chrome.err")"
if python3 - "$WORK/dom.html" <<'PY'; then
import re, sys
body = re.search(r"<body([^>]*)>", open(sys.argv[1]).read())
attrs = dict(re.findall(r'data-(\w+)="(\d+)"', body.group(1) if body else ""))
print(f"    Chromium: {attrs.get('images')} images ({attrs.get('broken')} broken), {attrs.get('links')} links to "
      f"sections ({attrs.get('dead')} dead), {attrs.get('colored')} of {attrs.get('verdicts')} verdicts colored")
assert int(attrs["images"]) >= 5 and attrs["broken"] == "0", attrs
assert int(attrs["links"]) >= 2 and attrs["dead"] == "0", attrs
assert int(attrs["verdicts"]) >= 2 and attrs["colored"] == attrs["verdicts"], attrs
PY
  pass "rendered: every image loaded, every compare row links to its section, verdicts colored"
else fail "rendered page: $(grep -o '<body[^>]*>' "$WORK/dom.html" | head -c 300)"; fi
heat=$(find "$WORK/report" -name 'fsdp_llama-*-heatmap.png' | head -1)
if [ -n "$heat" ] && python3 "$DTBENCH_SRC/tests/cli/png_ink.py" "$heat" 0.05 && grep -q "stragglers: " "$WORK/report/report.md"; then
  pass "the per-rank step-time heat map is drawn, and the stragglers named ($(grep -m1 -o 'stragglers: [^<]*' "$WORK/report/report.md"))"
else
  fail "no heat map of per-rank step times: $(ls "$WORK/report")"
fi
# A traced run: its last step on every rank as a timeline.
"$MPIRUN_LOCAL" 2 "$DTBENCH_BIN/benchmarks/fsdp_llama" --model tiny --seq 32 --global-batch 4 --steps 4 --threads 1 \
  --trace "$WORK/trace" --out "$WORK/traced.json" >/dev/null 2>&1 || fail "fsdp_llama --trace"
expect_exit 0 "dtbench-report of a traced run" -- "$TOOLS/dtbench-report" --out "$WORK/report2" "$WORK/traced.json"
line=$(find "$WORK/report2" -name 'fsdp_llama-*-timeline.png' | head -1)
[ -n "$line" ] && python3 "$DTBENCH_SRC/tests/cli/png_ink.py" "$line" 0.03 &&
  pass "a traced run's last step on every rank is drawn as a timeline" || fail "no step timeline: $(ls "$WORK/report2")"
timeout 120 "${chrome[@]}" --window-size=900,1400 --screenshot="$WORK/page.png" "file://$WORK/report/index.html" \
  >/dev/null 2>>"$WORK/chrome.err" || fail "chromium --screenshot: exit $?"
if python3 "$DTBENCH_SRC/tests/cli/png_ink.py" "$WORK/page.png" 0.02; then pass "the screenshot is not blank"
else fail "screenshot blank or unreadable"; fi
finish
