"""dtbench-compare: result records against their baselines, metric by metric.

    dtbench-compare --baselines DIR [--history DIR] [--update-baseline] [--threshold M=X ...] RUN.json ...

Records are compared only under the same key (docs/ARCHITECTURE.md, "Performance method"): benchmark,
model shape, world size, layout (strategy), dtype, device and system; threads, steps and
tags are recorded but are not part of the key. The baseline of a key is
<baselines>/<benchmark>-<key hash>.json (a record). For each metric:

  step_time_s      lower is better, threshold 5%, from the per-step samples
  tokens_per_s     higher is better, 5%, from the per-step samples
  peak_mem_bytes   lower is better, 5%, one value
  busbw_<size>     higher is better, 5%, per message size (collectives), its spread from the
                   iterations' p10/median/p90 times

ratio = now / baseline, oriented so that > 1 is worse; interval = the 95% bootstrap interval
of the ratio of medians (2000 resamples of each side's per-step samples, fixed seed).
Verdict: "regression" when the ratio is beyond 1 + threshold, the interval excludes 1 and -
once the history holds at least 5 nights for the key - the median also lies outside the band
of the last nights' medians (median +- 3 MAD); "improvement" the mirror; otherwise "noisy"
when the interval is wider than 2 x threshold (the run cannot tell a change from none), else
"ok"; metrics named by --ignore are shown with verdict "info". Prints a
Markdown table; exits 5 on any regression, 2 on bad input. --update-baseline writes each
run as its key's baseline (and compares nothing)."""
import argparse
import hashlib
import json
import math
import os
import statistics
import sys

import numpy as np

from escape import file_part, inside, markdown_text
from validate import BadRecord, load_record, load_records, parse, problems

DEFAULT_THRESHOLDS = {"step_time_s": 0.05, "tokens_per_s": 0.05, "peak_mem_bytes": 0.05, "busbw": 0.05}
MIN_NIGHTS = 5


def comparison_key(record, system):
    cfg = record.get("config", {})
    strategy = dict(cfg.get("strategy") or {})
    return {
        "benchmark": record["benchmark"],
        "model": cfg.get("model_config", {}).get("model") if isinstance(cfg.get("model_config"), dict) else None,
        "shape": {k: v for k, v in (cfg.get("model_config") or {}).items() if k in
                  ("hidden", "layers", "heads", "kv_heads", "ffn", "vocab", "seq", "parameters")},
        "world_size": record["launch"]["world_size"],
        "layout": strategy,
        "dtype": cfg.get("dtype"),
        "device": cfg.get("device"),
        "op": cfg.get("op"),
        "system": system,
    }


def key_id(key):
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def busbw_rows(record):
    """[(message bytes, out-of-place busbw GB/s, [busbw at the p90, median and p10 time])] of a
    collectives record: the spread of the iterations' times carried over to bandwidth."""
    out = []
    for row in record.get("rows", []):
        oop = row.get("out_of_place") or {}
        if row.get("size_bytes", 0) > 0 and "busbw_gbps" in oop:
            bw = oop["busbw_gbps"]
            t = oop.get("samples_us") or {}
            med = t.get("median") or 0
            spread = [bw * med / t[q] for q in ("p90", "median", "p10") if med > 0 and t.get(q)] or [bw]
            out.append((row["size_bytes"], bw, spread))
    return out


def samples(record):
    """{metric: (samples, lower_is_better)} of one record."""
    out = {}
    steps = [s for s in record.get("steps", []) if "time_s" in s]
    if len(steps) > 1:
        steps = steps[1:]  # the first step warms up
    if steps:
        out["step_time_s"] = ([s["time_s"] for s in steps], True)
        out["tokens_per_s"] = ([s["tokens_per_s"] for s in steps if "tokens_per_s" in s], False)
    m = record.get("metrics", {})
    if "peak_mem_bytes" in m:
        out["peak_mem_bytes"] = ([float(m["peak_mem_bytes"])], True)
    for size, _, spread in busbw_rows(record):
        out[f"busbw_{size}"] = (spread, False)
    return {k: v for k, v in out.items() if v[0]}


RESAMPLE_BLOCK = 1 << 22  # values drawn per numpy call: 32 MiB of indices, whatever the record's length


def resampled_medians(values, rng, rounds):
    """The medians of `rounds` resamples (with replacement, each as long as `values`), drawn
    in blocks of whole resamples, so the work is a few numpy calls per metric, not a Python
    loop per resample or per value."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    per_block = max(1, RESAMPLE_BLOCK // n)
    out = []
    for start in range(0, rounds, per_block):
        idx = rng.integers(0, n, size=(min(per_block, rounds - start), n))
        out.append(np.median(values[idx], axis=1))
    return np.concatenate(out)


def bootstrap(now, base, seed=12345, rounds=2000):
    """(ratio of medians now/base, 2.5% and 97.5% quantiles of its bootstrap)."""
    ratio = float(np.median(now) / np.median(base))
    if len(now) < 2 and len(base) < 2:
        return ratio, ratio, ratio
    rng = np.random.default_rng(seed)
    draws = np.sort(resampled_medians(now, rng, rounds) / resampled_medians(base, rng, rounds))
    return ratio, float(draws[int(0.025 * rounds)]), float(draws[int(0.975 * rounds) - 1])


def verdict(now, base, lower_better, threshold, history=None):
    """(verdict, oriented ratio, interval) for one metric; history: earlier nights' medians."""
    r, lo, hi = bootstrap(now, base)
    if not lower_better:  # orient: > 1 is worse
        r, lo, hi = 1 / r, 1 / hi, 1 / lo
    outside_band = True
    if history and len(history) >= MIN_NIGHTS:
        med = statistics.median(history)
        mad = statistics.median(abs(h - med) for h in history)
        outside_band = abs(statistics.median(now) - med) > 3 * mad
    if r > 1 + threshold and lo > 1 and outside_band:
        return "regression", r, (lo, hi)
    if r < 1 - threshold and hi < 1 and outside_band:
        return "improvement", r, (lo, hi)
    if hi - lo > 2 * threshold:  # neither clearly changed nor clearly the same
        return "noisy", r, (lo, hi)
    return "ok", r, (lo, hi)


def history_problem(line):
    """(record, None) for a valid history line, else (None, what is wrong with it)."""
    try:
        rec = parse(line)
    except ValueError as e:
        return None, f"not JSON ({e})"
    found = problems(rec)
    if found:
        return None, found[0]
    if not isinstance(rec.get("_key"), str):
        return None, "no comparison key (_key)"
    return rec, None


def load_history(history_dir, tool):
    """{comparison key id: [samples() of each night's record, oldest first]} from
    <history>/*.jsonl (one record per line, with `_key`); read once per invocation. A line
    that is not a valid record (garbage, or an old line the schema no longer accepts) is
    reported on stderr and skipped: one bad night must not stop the nightly gate."""
    nights = {}
    if not history_dir or not os.path.isdir(history_dir):
        return nights
    for name in sorted(os.listdir(history_dir)):
        if not name.endswith(".jsonl"):
            continue
        path = os.path.join(history_dir, name)
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                rec, problem = history_problem(line)
                if problem:
                    print(f"{tool}: {path}:{number}: skipped: {problem}", file=sys.stderr)
                else:
                    nights.setdefault(rec["_key"], []).append(samples(rec))
    return nights


def baseline_path(baselines, record, kid):
    """<baselines>/<benchmark>-<key id>.json; the name is made safe and kept inside the folder."""
    return inside(baselines, file_part(f"{record['benchmark']}-{kid}") + ".json")


def night_medians(nights, metric):
    """The medians of `metric` over the nights of one key."""
    return [statistics.median(n[metric][0]) for n in nights if metric in n]


def fmt(x):
    return f"{x:.4g}"


def main(argv):
    p = argparse.ArgumentParser(prog="dtbench-compare", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="result records")
    p.add_argument("--baselines", required=True, help="results/baselines/<system>")
    p.add_argument("--history", help="results/history/<system> (nightly .jsonl files)")
    p.add_argument("--system", help="system name (default: the baselines folder's name)")
    p.add_argument("--threshold", action="append", default=[], metavar="METRIC=X", help="e.g. step_time_s=0.03")
    p.add_argument("--ignore", action="append", default=[], metavar="PREFIX",
                   help="metrics shown but never judged (verdict 'info'), e.g. busbw")
    p.add_argument("--update-baseline", action="store_true")
    a = p.parse_args(argv)
    system = a.system or os.path.basename(os.path.normpath(a.baselines))
    thresholds = dict(DEFAULT_THRESHOLDS)
    for t in a.threshold:
        name, _, value = t.partition("=")
        try:
            thresholds[name] = float(value)
        except ValueError:
            thresholds[name] = math.nan
        if not 0 < thresholds[name] < 10:
            print(f"dtbench-compare: --threshold {t}: want METRIC=FRACTION with 0 < FRACTION < 10, "
                  "e.g. step_time_s=0.05", file=sys.stderr)
            return 2
    rows, regressions = [], 0
    history = load_history(a.history, "dtbench-compare")
    loaded = load_records(a.runs, "dtbench-compare")
    if loaded is None:
        return 2
    for path, run in loaded:
        key = comparison_key(run, system)
        kid = key_id(key)
        base_path = baseline_path(a.baselines, run, kid)
        if a.update_baseline:
            os.makedirs(a.baselines, exist_ok=True)
            tmp = base_path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(dict(run, _key=kid, _key_fields=key), f, indent=1)
            os.replace(tmp, base_path)
            print(f"baseline {base_path} <- {path}")
            continue
        if run.get("status") != "ok":
            rows.append((run["benchmark"], "-", "-", "-", "-", "-", f"run failed: {markdown_text(run.get('error'))}"))
            continue
        if not os.path.exists(base_path):
            rows.append((run["benchmark"], "-", "-", "-", "-", "-", f"no baseline for key {kid}: not compared"))
            continue
        try:
            base = load_record(base_path)
        except BadRecord as e:
            print(f"dtbench-compare: baseline {e}", file=sys.stderr)
            return 2
        now_s, base_s = samples(run), samples(base)
        for metric in sorted(set(now_s) & set(base_s)):
            family = "busbw" if metric.startswith("busbw_") else metric
            th = thresholds.get(metric, thresholds.get(family, 0.05))
            hist = night_medians(history.get(kid, []), metric)
            v, r, (lo, hi) = verdict(now_s[metric][0], base_s[metric][0], now_s[metric][1], th, hist)
            if any(metric.startswith(prefix) for prefix in a.ignore):
                v = "info"
            regressions += v == "regression"
            rows.append((f"{run['benchmark']} {kid}", metric, fmt(statistics.median(base_s[metric][0])),
                         fmt(statistics.median(now_s[metric][0])), f"{r:.3f}", f"[{lo:.3f}, {hi:.3f}]", v))
    if rows:
        print("| record | metric | baseline | now | ratio (>1 worse) | 95% interval | verdict |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    if regressions:
        print(f"\n{regressions} regression(s)")
    return 5 if regressions else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
