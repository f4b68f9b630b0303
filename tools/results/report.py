"""dtbench-report: a self-contained report of result records, as HTML and Markdown, with
plots drawn by gnuplot (PNG files beside the page; nothing is fetched from the network).

    dtbench-report --out DIR [--history DIR] [--baselines DIR] [--compare FILE.md] RUN.json ...

Plots: the loss curve of each training run; each rank's median step time with its p90 (a
straggler stands out); bus bandwidth against message size, log-log, for collectives; and,
given --history, the nightly trend of each key's median step time (or peak busbw) with the
baseline's value and a ±5% band. --compare includes a dtbench-compare table. Writes
DIR/index.html, DIR/report.md and DIR/*.png; exits 2 on bad input, 3 when gnuplot fails."""
import argparse
import html
import os
import statistics
import subprocess
import sys

from compare import baseline_path, busbw_rows, comparison_key, key_id, load_history, night_medians, samples
from escape import file_part, gnuplot_string, markdown_text
from validate import BadRecord, load_record, load_records


def plot(out_dir, name, title, xlabel, ylabel, series, logx=False, logy=False, style="linespoints", integer_x=False):
    """series: [(label, [(x, y), ...], style or None)]. Writes name.png; returns its file name.
    Every string reaches gnuplot through gnuplot_string (record text is data, never a command)."""
    name = file_part(name)
    data_files = []
    for i, (_, points, _) in enumerate(series):
        path = os.path.join(out_dir, f".{name}.{i}.dat")
        with open(path, "w") as f:
            f.writelines(f"{x} {y}\n" for x, y in points)
        data_files.append(path)
    image = f"{name}.png"
    script = ["set terminal pngcairo size 900,500 font 'sans,10' noenhanced",
              f"set output {gnuplot_string(os.path.join(out_dir, image))}",
              f"set title {gnuplot_string(title)}", f"set xlabel {gnuplot_string(xlabel)}",
              f"set ylabel {gnuplot_string(ylabel)}",
              "set grid", "set key outside right"]
    if logx:
        script.append("set logscale x 2")
    if integer_x:
        script.append("set xtics 1")
    if logy:
        script.append("set logscale y 10")
    plots = [f"{gnuplot_string(d)} using 1:2 with {s or style} title {gnuplot_string(label)}"
             for d, (label, _, s) in zip(data_files, series)]
    script.append("plot " + ", ".join(plots))
    r = subprocess.run(["gnuplot"], input="\n".join(script), text=True, capture_output=True)
    for d in data_files:
        os.unlink(d)
    if r.returncode != 0:
        raise RuntimeError(f"gnuplot failed on {name}: {r.stderr.strip()[:300]}")
    return image


def main(argv):
    p = argparse.ArgumentParser(prog="dtbench-report", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--history", help="results/history/<system>")
    p.add_argument("--baselines", help="results/baselines/<system>")
    p.add_argument("--system", default="")
    p.add_argument("--compare", help="a dtbench-compare Markdown table to include")
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    system = a.system or (os.path.basename(os.path.normpath(a.baselines)) if a.baselines else "")
    records = load_records(a.runs, "dtbench-report")
    if records is None:
        return 2
    history = load_history(a.history, "dtbench-report")
    sections = []  # (title, [lines of markdown], [image files])
    try:
        for i, (path, r) in enumerate(records):
            kid = key_id(comparison_key(r, system))
            name = file_part(f"{r['benchmark']}-{kid}")
            m = r.get("metrics", {})
            lines, figs = [f"{os.path.basename(path)}: status {r['status']}, {r['launch']['world_size']} "
                           f"rank(s), launch {r['launch']['source']}, key {kid}"], []
            if r.get("steps"):
                figs.append(plot(a.out, f"{name}-loss", f"{r['benchmark']}: loss", "step", "loss",
                                 [("loss", [(s["step"], s["loss"]) for s in r["steps"] if s["loss"] is not None],
                                   None)]))
                st = m.get("step_time_s", {})
                lines.append(f"step {st.get('median', 0):.4g} s (median; p10 {st.get('p10', 0):.4g}, p90 "
                             f"{st.get('p90', 0):.4g}), tokens/s {m.get('tokens_per_s', 0):.4g}, MFU "
                             f"{100 * m.get('mfu', 0):.1f}%, peak memory {m.get('peak_mem_bytes', 0) / 2**30:.2f} GiB, "
                             f"loss {m.get('loss_first', 0):.4f} → {m.get('loss_last', 0):.4f}")
            ranks = [pr for pr in r.get("per_rank", []) if "step_time_median_s" in pr]
            if ranks:
                figs.append(plot(a.out, f"{name}-ranks", f"{r['benchmark']}: step time per rank (median, p90)",
                                 "rank", "seconds",
                                 [("median", [(pr["rank"], pr["step_time_median_s"]) for pr in ranks], "points pt 7"),
                                  ("p90", [(pr["rank"], pr.get("step_time_p90_s", pr["step_time_median_s"]))
                                           for pr in ranks], "points pt 2")]))
                slow = max(ranks, key=lambda pr: pr["step_time_median_s"])
                lines.append(f"slowest rank {slow['rank']} on {slow.get('host', '?')}: "
                             f"{slow['step_time_median_s']:.4g} s median")
            rows = busbw_rows(r)
            if rows:
                figs.append(plot(a.out, f"{name}-busbw", f"{r['benchmark']} {r['config'].get('op', '')}: bus bandwidth",
                                 "message size (bytes)", "busbw (GB/s)",
                                 [("busbw, out of place", [(b, max(v, 1e-9)) for b, v, _ in rows], None)],
                                 logx=True, logy=True))
                best = max(rows, key=lambda row: row[1])
                lines.append(f"peak busbw {best[1]:.3g} GB/s at {best[0]} B")
            trend = list(enumerate(night_medians(history.get(kid, []), "step_time_s")))
            if trend:
                series = [("nightly median step time", trend, None)]
                base_path = baseline_path(a.baselines, r, kid) if a.baselines else ""
                if base_path and os.path.exists(base_path):
                    b = statistics.median(samples(load_record(base_path))["step_time_s"][0])
                    xs = [x for x, _ in trend]
                    series += [("baseline", [(x, b) for x in xs], "lines dt 2"),
                               ("baseline ±5%", [(x, b * 1.05) for x in xs], "lines lc rgb 'grey'"),
                               ("", [(x, b * 0.95) for x in xs], "lines lc rgb 'grey'")]
                figs.append(plot(a.out, f"{name}-trend", f"{r['benchmark']}: nightly median step time", "night",
                                 "seconds", series, integer_x=True))
            sections.append((f"{r['benchmark']} ({kid})", lines, figs))
    except BadRecord as e:
        print(f"dtbench-report: baseline {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"dtbench-report: {e}", file=sys.stderr)
        return 3
    table = open(a.compare).read() if a.compare else ""
    md = ["# dtbench report", ""] + (["## Comparison", "", table, ""] if table else [])
    page = ["<!doctype html><html><head><meta charset='utf-8'><title>dtbench report</title>",
            "<style>body{font-family:sans-serif;max-width:980px;margin:2em auto}img{max-width:100%}"
            "pre{background:#f4f4f4;padding:1em;overflow:auto}</style></head><body><h1>dtbench report</h1>"]
    if table:
        page.append(f"<h2>Comparison</h2><pre>{html.escape(table)}</pre>")
    for title, lines, figs in sections:
        md += [f"## {markdown_text(title)}", ""] + [f"- {markdown_text(l)}" for l in lines] + [""]
        md += [f"![{f}]({f})" for f in figs] + [""]
        page.append(f"<h2>{html.escape(title)}</h2><ul>" + "".join(f"<li>{html.escape(l)}</li>" for l in lines) + "</ul>")
        page += [f"<p><img src='{html.escape(f)}' alt='{html.escape(f)}'></p>" for f in figs]
    page.append("</body></html>")
    open(os.path.join(a.out, "report.md"), "w").write("\n".join(md) + "\n")
    open(os.path.join(a.out, "index.html"), "w").write("\n".join(page) + "\n")
    print(f"wrote {os.path.join(a.out, 'index.html')} and report.md with {sum(len(s[2]) for s in sections)} plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
