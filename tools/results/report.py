"""dtbench-report: a self-contained report of result records, as HTML and Markdown, with
plots drawn by gnuplot (PNG files beside the page; nothing is fetched from the network).

    dtbench-report --out DIR [--system NAME] [--history DIR] [--baselines DIR] [--compare FILE.md]
                   [--grafana URL] RUN.json ...

Records of one comparison key (the nightly run's repetitions) make one section. Plots, each
titled with the system and what it shows, units on the axes: the loss per step; each rank's
median step time as bars from 0 with integer rank ticks, the slowest rank in red and the p90
beside it; bus bandwidth against message size (log-log) with the baseline's curve and its
p10-p90 band shaded; and, given --history, the trend of the key's median step time (busbw at
its largest message for collectives) by night, dated, with the baseline, the noise band shaded
(the nights' 95% prediction band once there are 5, else the baseline +- 5%) and the nights beyond
it on the bad side marked as regressions. --compare includes a
dtbench-compare table, verdicts colored, each row linked to its record's plots. Writes
DIR/index.html, DIR/report.md and DIR/*.png; exits 2 on bad input, 3 when gnuplot fails.
--grafana (the Grafana that holds results/grafana's dashboard, e.g. http://grafana:3000): links
to the dashboard for the system, and from each section to it for that benchmark (without it,
the report links nothing outside its folder)."""
import argparse
import datetime
import glob
import html
import json
import math
import os
import re
import statistics
import subprocess
import sys
import urllib.parse

from compare import (MIN_NIGHTS, baseline_paths, busbw_rows, comparison_key, history_band, key_id, load_history,
                     night_series, samples)
from dashboard_def import UID as DASHBOARD_UID
from escape import file_part, gnuplot_string, markdown_text
from validate import BadRecord, load_record, load_records

THRESHOLD = 0.05  # the band around the baseline before the history has MIN_NIGHTS nights
COLORS = {"main": "#3b6ea8", "alert": "#c0392b", "band": "#c8d6e5", "base": "#555555"}


def plot(out_dir, name, settings, series):
    """series: [(title, rows, 'using ... with ...')]; settings: gnuplot lines after the common
    ones. Writes name.png; returns its file name. Every string from a record reaches gnuplot
    through gnuplot_string (record text is data, never a command)."""
    name = file_part(name)
    data_files = []
    for i, (_, rows, _) in enumerate(series):
        path = os.path.join(out_dir, f".{name}.{i}.dat")
        with open(path, "w") as f:
            f.writelines(" ".join(str(v) for v in row) + "\n" for row in rows)
        data_files.append(path)
    image = f"{name}.png"
    script = ["set terminal pngcairo size 900,480 font 'sans,10' noenhanced",
              f"set output {gnuplot_string(os.path.join(out_dir, image))}",
              "set grid back lc rgb '#dddddd'", "set key outside right top", "set border 3", "set tics nomirror",
              "set format y '%.3g'",
              *settings]
    plots = [f"{gnuplot_string(d)} {how} title {gnuplot_string(title)}"
             for d, (title, _, how) in zip(data_files, series)]
    script.append("plot " + ", ".join(plots))
    r = subprocess.run(["gnuplot"], input="\n".join(script), text=True, capture_output=True)
    for d in data_files:
        os.unlink(d)
    if r.returncode != 0:
        raise RuntimeError(f"gnuplot failed on {name}: {r.stderr.strip()[:300]}")
    return image


def labels(title, xlabel, ylabel):
    return [f"set title {gnuplot_string(title)}", f"set xlabel {gnuplot_string(xlabel)}",
            f"set ylabel {gnuplot_string(ylabel)}"]


def loss_plot(out, name, head, r):
    points = [(s["step"], s["loss"]) for s in r["steps"] if s["loss"] is not None]
    return plot(out, f"{name}-loss", labels(f"{head}: loss per step", "step", "loss") +
                ["set offsets graph 0.02, graph 0.02, graph 0.05, graph 0.05"],
                [("loss", points, f"using 1:2 with linespoints lc rgb '{COLORS['main']}' pt 7 ps 0.6")])


def ranks_plot(out, name, head, runs):
    """Bars of each rank's median step time (the median over the runs), the slowest in red."""
    per = {}
    for r in runs:
        for pr in r.get("per_rank", []):
            if "step_time_median_s" in pr:
                per.setdefault(pr["rank"], []).append((pr["step_time_median_s"],
                                                       pr.get("step_time_p90_s", pr["step_time_median_s"])))
    if not per:
        return None, None
    rows = sorted((rank, statistics.median(m for m, _ in v), statistics.median(p for _, p in v))
                  for rank, v in per.items())
    slow = max(rows, key=lambda x: x[1])
    n = len(rows)
    settings = labels(f"{head}: step time per rank (median of {len(runs)} run(s))", "rank", "step time (s)") + [
        "set style fill solid 0.75 noborder", "set boxwidth 0.6", "set xtics 1 format '%.0f'",
        f"set xrange [-0.7:{n - 0.3}]", "set yrange [0:*]", "set offsets 0, 0, graph 0.12, 0"]
    series = [("median step time", [(k, m) for k, m, _ in rows if k != slow[0]],
               f"using 1:2 with boxes lc rgb '{COLORS['main']}'"),
              (f"slowest: rank {slow[0]}", [(slow[0], slow[1])], f"using 1:2 with boxes lc rgb '{COLORS['alert']}'"),
              ("p90", [(k, p) for k, _, p in rows], "using 1:2 with points pt 2 ps 1.2 lc rgb '#222222'")]
    return plot(out, f"{name}-ranks", settings, series), slow


def heatmap_plot(out, name, head, r):
    """A row per rank, a column per step: the share of the step the others waited for the rank
    (its lateness at every collective, summed; the record's per_rank[].per_step). A straggler is
    a bright row; a step where everybody waited on someone, a column. None without per-step data."""
    cells = [(s, pr["rank"], late / t if t > 0 else 0.0) for pr in r.get("per_rank", []) if "per_step" in pr
             for s, t, late in zip(pr["per_step"]["step"], pr["per_step"]["time_s"], pr["per_step"]["late_s"])]
    if not cells:
        return None
    ranks = sorted({c[1] for c in cells})
    steps = sorted({c[0] for c in cells})
    stragglers = ", ".join(f"rank {x['rank']} ({x['host']}) {x['cause']}" for x in r.get("stragglers") or [])
    settings = labels(f"{head}: share of each step the others waited for the rank; stragglers: {stragglers or 'none'}",
                      "step", "rank") + [
        "set view map", "set palette defined (0 '#f7fbff', 0.3 '#6baed6', 0.6 '#08306b', 1 '#c0392b')",
        "set cbrange [0:1]", f"set xrange [{steps[0] - 0.5}:{steps[-1] + 0.5}]",
        f"set yrange [{ranks[0] - 0.5}:{ranks[-1] + 0.5}]", "set ytics 1 format '%.0f'", "set cblabel 'waited for'",
        "set format cb '%.1f'"]
    grid = sorted(cells, key=lambda c: (c[1], c[0]))  # the image's scan order: steps within each rank
    return plot(out, f"{name}-heatmap", settings, [("", grid, "using 1:2:3 with image")])


def step_timeline(trace_dir):
    """The last step of a --trace run as [(rank, kind, start_ms, end_ms)] on rank 0's clock (each
    rank's start offset from its trace), kinds "compute" (forward, backward, optimizer spans) and
    "comm" (communication ops), with the step's window; None when the traces are not there."""
    files = sorted(glob.glob(os.path.join(trace_dir, "trace.rank*.json")))
    if not files:
        return None
    ranks = []
    for path in files:
        t = json.load(open(path))
        other = t.get("otherData", {})
        offset_us = other.get("clock", {}).get("start", {}).get("offset_s", 0.0) * 1e6
        slices = [e for e in t["traceEvents"] if e.get("ph") == "X"]
        ranks.append((other.get("rank", len(ranks)), offset_us, slices))
    steps = [e for _, _, sl in ranks[:1] for e in sl if e["name"].startswith("step ")]
    if not steps:
        return None
    last = max(steps, key=lambda e: e["ts"])["name"]
    bars, window = [], None
    for rank, offset_us, slices in ranks:
        step = next((e for e in slices if e["name"] == last), None)
        if step is None:
            continue
        lo, hi = step["ts"], step["ts"] + step["dur"]
        for e in slices:
            if e["ts"] < lo or e["ts"] + e.get("dur", 0) > hi:
                continue
            kind = "comm" if e.get("cat") == "comm" else "compute" if re.match(r"micro-batch|optimizer", e["name"]) else None
            if kind:
                bars.append((rank, kind, (e["ts"] + offset_us) / 1e3, (e["ts"] + e["dur"] + offset_us) / 1e3))
        w = ((lo + offset_us) / 1e3, (hi + offset_us) / 1e3)
        window = w if window is None else (min(window[0], w[0]), max(window[1], w[1]))
    return (last, window, bars) if bars else None


def timeline_plot(out, name, head, r):
    """Each rank's last step as bars on one time axis (rank 0's clock): its forward, backward and
    optimizer work, and its communication ops on a line just above. None without --trace files."""
    found = step_timeline(r["trace_dir"]) if r.get("trace_dir") else None
    if not found:
        return None
    step, (t0, t1), bars = found
    # boxxyerror draws a box from x, y, xlow, xhigh, ylow, yhigh: a lane per kind in each rank's row.
    rows = {"compute": [], "comm": []}
    for rank, kind, a, b in bars:
        y0 = rank + (0.06 if kind == "comm" else -0.3)
        y1 = y0 + 0.24
        rows[kind].append(((a + b) / 2 - t0, (y0 + y1) / 2, a - t0, b - t0, y0, y1))
    ranks = sorted({b[0] for b in bars})
    settings = labels(f"{head}: {step} on every rank (rank 0's clock)", "ms since the step began", "rank") + [
        f"set xrange [0:{t1 - t0:.3f}]", f"set yrange [{ranks[0] - 0.6}:{ranks[-1] + 0.6}]", "set ytics 1 format '%.0f'",
        "set style fill solid 0.8 noborder"]
    series = [(title, rows[kind], f"using 1:2:3:4:5:6 with boxxyerror lc rgb '{color}'")
              for kind, title, color in (("compute", "forward, backward, optimizer", COLORS["main"]),
                                         ("comm", "communication ops", COLORS["alert"])) if rows[kind]]
    return plot(out, f"{name}-timeline", settings, series)


def busbw_plot(out, name, head, runs, base_runs):
    rows = busbw_rows(runs[0])
    if not rows:
        return None
    series = []
    base = [busbw_rows(b) for b in base_runs]
    if base and base[0]:
        sizes = sorted({size for rs in base for size, _, _ in rs})
        band = []
        for size in sizes:
            spread = [v for rs in base for s, _, sp in rs if s == size for v in sp]
            center = [bw for rs in base for s, bw, _ in rs if s == size]
            band.append((size, max(min(spread), 1e-9), max(max(spread), 1e-9), max(statistics.median(center), 1e-9)))
        series += [("baseline p10-p90", band, f"using 1:2:3 with filledcurves fc rgb '{COLORS['band']}'"),
                   ("baseline", band, f"using 1:4 with lines dt 2 lw 1.5 lc rgb '{COLORS['base']}'")]
    for i, r in enumerate(runs):
        series.append((f"run {i + 1}" if len(runs) > 1 else "now", [(b, max(v, 1e-9)) for b, v, _ in busbw_rows(r)],
                       f"using 1:2 with linespoints pt 7 ps 0.6 lc rgb '{COLORS['main']}'"))
    settings = labels(f"{head}: bus bandwidth by message size", "message size (bytes)", "busbw (GB/s)") + [
        "set logscale x 2", "set logscale y 10", "set format x '%.0s%cB'", "set offsets graph 0.03, graph 0.03, 0, 0"]
    return plot(out, f"{name}-busbw", settings, series)


def trend_metric(nights):
    """The metric a key's trend shows: its step time, else its largest message's busbw."""
    metrics = {m for _, n in nights for m in n}
    if "step_time_s" in metrics:
        return "step_time_s", "median step time", "step time (s)", True
    sizes = [int(m[len("busbw_"):]) for m in metrics if m.startswith("busbw_")]
    if not sizes:
        return None, None, None, None
    return f"busbw_{max(sizes)}", f"busbw at {max(sizes)} B", "busbw (GB/s)", False


def epoch(date):
    return int(datetime.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc).timestamp())


def trend_plot(out, name, head, nights, base_runs):
    """The key's metric by night (UTC dates), the baseline, the noise band shaded, and the
    nights beyond it on the bad side marked."""
    metric, what, unit, lower_better = trend_metric(nights)
    trend = night_series(nights, metric) if metric else []
    if not trend:
        return None
    meds = [m for _, m in trend]
    series = []
    bases = [samples(b).get(metric) for b in base_runs]
    base = statistics.median(statistics.median(b[0]) for b in bases) if bases and all(bases) else None
    if len(meds) >= MIN_NIGHTS:
        (lo, hi), band_name = history_band(meds), "the nights' 95% band"
    elif base is not None:
        lo, hi, band_name = base * (1 - THRESHOLD), base * (1 + THRESHOLD), "baseline +- 5%"
    else:
        lo = hi = None
    times = [epoch(d) for d, _ in trend]
    first, last = min(times) - 43200, max(times) + 43200  # half a day of room: no point on the frame
    if lo is not None:
        series.append((band_name, [(first, lo, hi), (last, lo, hi)],
                       f"using 1:2:3 with filledcurves fc rgb '{COLORS['band']}'"))
    if base is not None:
        series.append(("baseline", [(first, base), (last, base)],
                       f"using 1:2 with lines dt 2 lw 1.5 lc rgb '{COLORS['base']}'"))
    series.append((what, list(zip(times, meds)), f"using 1:2 with linespoints pt 7 ps 0.8 lc rgb '{COLORS['main']}'"))

    def worse(m, bound, ref):
        return m > bound and (ref is None or m > ref * (1 + THRESHOLD)) if lower_better else \
            m < bound and (ref is None or m < ref * (1 - THRESHOLD))
    marked = [(t, m) for t, m in zip(times, meds) if lo is not None and worse(m, hi if lower_better else lo, base)]
    if marked:
        series.append(("regression", marked, f"using 1:2 with points pt 9 ps 2 lc rgb '{COLORS['alert']}'"))
    days = max(1, math.ceil((last - first) / 86400 / 8))  # at most about 8 dated ticks
    settings = labels(f"{head}: {what} by night", "night (UTC date)", unit) + [
        "set xdata time", "set timefmt '%s'", "set format x '%Y-%m-%d'", "set xtics rotate by -30",
        f"set xtics {days * 86400}", f"set xrange ['{first}':'{last}']", "set offsets 0, 0, graph 0.1, graph 0.1"]
    return plot(out, f"{name}-trend", settings, series)


def markdown_plain(text):
    """Markdown's backslash escapes undone (the text as the reader should see it)."""
    return re.sub(r"\\(.)", r"\1", text)


def compare_rows(table):
    """The header and rows of a dtbench-compare Markdown table (cells split at unescaped
    pipes, then unescaped), and the lines after it."""
    header, rows, after = None, [], []
    for line in table.splitlines():
        if line.startswith("|"):
            cells = [markdown_plain(c.strip()) for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
            if header is None:
                header = cells
            elif not set(line) <= set("|-: "):
                rows.append(cells)
        elif line.strip():
            after.append(markdown_plain(line.strip()))
    return header or [], rows, after


def compare_html(table, anchors):
    """The compare table as HTML: verdicts colored, each record linked to its section."""
    header, rows, after = compare_rows(table)
    out = ["<table class='compare'><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for cells in rows:
        tds = []
        for i, c in enumerate(cells):
            text = html.escape(c)
            if i == 0 and anchors.get(c):
                text = f"<a href='#{html.escape(anchors[c])}'>{text}</a>"
            cls = f" class='v-{html.escape(c.split(':')[0].replace(' ', '-'))}'" if i == len(cells) - 1 else ""
            tds.append(f"<td{cls}>{text}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table>")
    out += [f"<p>{html.escape(line)}</p>" for line in after]
    return "\n".join(out)


STYLE = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}img{max-width:100%}"
         "table.compare{border-collapse:collapse;font-size:0.9em}table.compare td,table.compare th"
         "{border:1px solid #ccc;padding:0.25em 0.5em;text-align:right}table.compare td:first-child{text-align:left}"
         ".v-regression{background:#f5b7b1;font-weight:bold}.v-improvement{background:#abebc6}"
         ".v-ok{background:#e8f8f5}.v-noisy{background:#fcf3cf}.v-info{background:#f2f3f4}"
         ".v-run-failed{background:#f5b7b1}")


def dashboard_link(grafana, system, benchmark=None):
    """results/grafana's dashboard at a Grafana, its variables set to the system (and benchmark)."""
    query = [("var-system", system or "All")] + ([("var-benchmark", benchmark)] if benchmark else [])
    return f"{grafana.rstrip('/')}/d/{DASHBOARD_UID}?{urllib.parse.urlencode(query)}"


def main(argv):
    p = argparse.ArgumentParser(prog="dtbench-report", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--history", help="results/history/<system>")
    p.add_argument("--baselines", help="results/baselines/<system>")
    p.add_argument("--system", default="")
    p.add_argument("--compare", help="a dtbench-compare Markdown table to include")
    p.add_argument("--grafana", metavar="URL", help="link the Grafana dashboard at this Grafana")
    a = p.parse_args(argv)
    if a.grafana and not re.fullmatch(r"https?://[^\s'\"<>]+", a.grafana):
        print(f"dtbench-report: --grafana {a.grafana!r}: want the Grafana's http(s) URL, e.g. http://grafana:3000",
              file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    system = a.system or (os.path.basename(os.path.normpath(a.baselines)) if a.baselines else "")
    records = load_records(a.runs, "dtbench-report")
    if records is None:
        return 2
    history = load_history(a.history, "dtbench-report")
    groups = {}  # key id -> [(path, record)], in the order given
    for path, r in records:
        groups.setdefault(key_id(comparison_key(r, system)), []).append((path, r))
    sections, anchors = [], {}  # sections: (anchor, title, [markdown lines], [images])
    try:
        for kid, group in groups.items():
            runs = [r for _, r in group]
            r = runs[0]
            name = file_part(f"{r['benchmark']}-{kid}")
            anchors[f"{r['benchmark']} {kid}"] = name
            head = f"{system or 'this system'}: {r['benchmark']}" + (f" {r['config']['op']}" if r["config"].get("op") else "")
            base_runs = [load_record(b) for b in baseline_paths(a.baselines, r, kid)] if a.baselines else []
            m = r.get("metrics", {})
            lines = [f"{', '.join(os.path.basename(p) for p, _ in group)}: status "
                     f"{'/'.join(sorted({x['status'] for x in runs}))}, {r['launch']['world_size']} rank(s), launch "
                     f"{r['launch']['source']}, key {kid}, {len(runs)} run(s)"]
            figs = []
            if r.get("steps"):
                figs.append(loss_plot(a.out, name, head, r))
                st = m.get("step_time_s", {})
                lines.append(f"step {st.get('median', 0):.4g} s (median; p10 {st.get('p10', 0):.4g}, p90 "
                             f"{st.get('p90', 0):.4g}), tokens/s {m.get('tokens_per_s', 0):.4g}, MFU "
                             f"{100 * m.get('mfu', 0):.1f}%, peak memory {m.get('peak_mem_bytes', 0) / 2**30:.2f} GiB, "
                             f"loss {m.get('loss_first', 0):.4f} → {m.get('loss_last', 0):.4f}")
                pred = r.get("prediction")
                if pred:  # --hw-profile: against what the hardware should give, without history
                    ratio = pred["measured_over_predicted"]
                    lines.append(f"predicted on {pred['profile']}: step {pred['step_time_s']:.4g} s, tokens/s "
                                 f"{pred['tokens_per_s']:.4g}; measured/predicted step {ratio['step_time']:.2f}, tokens/s "
                                 f"{ratio['tokens_per_s']:.2f}, peak memory {ratio['peak_mem']:.2f}")
            line = timeline_plot(a.out, name, head, r)
            if line:
                figs.append(line)
            heat = heatmap_plot(a.out, name, head, r)
            if heat:
                figs.append(heat)
                lines.append("stragglers: " + (", ".join(f"rank {x['rank']} ({x['host']}) {x['score']:.2f} {x['cause']}"
                                                         for x in r.get("stragglers") or []) or "none"))
            img, slow = ranks_plot(a.out, name, head, runs)
            if img:
                figs.append(img)
                host = next((pr.get("host", "?") for pr in r.get("per_rank", []) if pr.get("rank") == slow[0]), "?")
                lines.append(f"slowest rank {slow[0]} on {host}: {slow[1]:.4g} s median")
            img = busbw_plot(a.out, name, head, runs, base_runs)
            if img:
                figs.append(img)
                best = max(busbw_rows(r), key=lambda row: row[1])
                lines.append(f"peak busbw {best[1]:.3g} GB/s at {best[0]} B")
            img = trend_plot(a.out, name, head, history.get(kid, []), base_runs)
            if img:
                figs.append(img)
            link = dashboard_link(a.grafana, system, r["benchmark"]) if a.grafana else None
            sections.append((name, f"{r['benchmark']} ({kid})", lines, figs, link))
    except BadRecord as e:
        print(f"dtbench-report: baseline {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"dtbench-report: {e}", file=sys.stderr)
        return 3
    table = open(a.compare).read() if a.compare else ""
    title = f"dtbench report: {system}" if system else "dtbench report"
    md = [f"# {markdown_text(title)}", ""] + (["## Comparison", "", table, ""] if table else [])
    page = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if a.grafana:
        url = dashboard_link(a.grafana, system)
        md += [f"Dashboard: <{url}>", ""]
        page.append(f"<p>Dashboard over time: <a href='{html.escape(url)}'>{html.escape(url)}</a></p>")
    if table:
        page.append(f"<h2>Comparison</h2>{compare_html(table, anchors)}")
    for anchor, heading, lines, figs, link in sections:
        md += [f"## {markdown_text(heading)}", ""] + [f"- {markdown_text(l)}" for l in lines] + [""]
        if link:
            md += [f"Over time: <{link}>", ""]
        md += [f"![{f}]({f})" for f in figs] + [""]
        page.append(f"<h2 id='{html.escape(anchor)}'>{html.escape(heading)}</h2><ul>" +
                    "".join(f"<li>{html.escape(l)}</li>" for l in lines) +
                    (f"<li>over time: <a href='{html.escape(link)}'>the dashboard</a></li>" if link else "") + "</ul>")
        page += [f"<p><img src='{html.escape(f)}' alt='{html.escape(f)}'></p>" for f in figs]
    page.append("</body></html>")
    open(os.path.join(a.out, "report.md"), "w").write("\n".join(md) + "\n")
    open(os.path.join(a.out, "index.html"), "w").write("\n".join(page) + "\n")
    print(f"wrote {os.path.join(a.out, 'index.html')} and report.md with {sum(len(s[3]) for s in sections)} plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
