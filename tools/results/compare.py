"""dtbench-compare: result records against their baselines, metric by metric.

    dtbench-compare --baselines DIR [--history DIR] [--repetitions R] [--update-baseline]
                    [--threshold M=X ...] [--ignore PREFIX ...] [--json FILE] RUN.json ...

Records are compared only under the same key (docs/ARCHITECTURE.md, "Performance method"): benchmark,
model shape, world size, layout (strategy), dtype, device and system; threads, steps and
tags are recorded but are not part of the key. Records of one key given together are
repetitions of one measurement (the nightly run makes R = 3, interleaved across its set). The
baseline of a key is <baselines>/<benchmark>-<key hash>.json, with its further repetitions
in .r2.json, .r3.json, ... (records). For each metric:

  step_time_s      lower is better, threshold 5%, from the per-step samples
  tokens_per_s     higher is better, 5%, from the per-step samples
  peak_mem_bytes   lower is better, 5%, one value
  busbw_<size>     higher is better, 5%, per message size (collectives), its spread from the
                   iterations' p10/median/p90 times

ratio = now / baseline, each side's value the geometric mean of its runs' medians, oriented so
that > 1 is worse. With three runs or more in all (the nightly run's R = 3 a side), the 95%
interval is a two-sample t interval on the logs of the runs' medians: run-to-run shifts - what
dominates on shared machines and clusters - are the noise it sees. With one run a side (older
baselines), it is the bootstrap of the steps (2000 resamples, fixed seed), which sees only
step-to-step noise. The minimum detectable change (MDC) is the change the observed spread lets
the gate see 80% of the time at that confidence: (t(97.5%) + t(80%)) standard errors.
Verdict: "regression" when the ratio is beyond 1 + threshold, the interval excludes 1 and -
once the history holds at least 5 nights for the key - tonight's value also lies outside the
95% prediction interval of one more night drawn from those nights (history_band); "improvement"
the mirror; otherwise "noisy"
when the MDC exceeds the threshold (the gate could not have seen a change of that size: never
"ok"), else "ok"; metrics named by --ignore are shown with verdict "info". A side with fewer
runs than --repetitions (older baselines hold one) is compared with a warning that its interval
is narrower than it should be. Prints a Markdown table (--json FILE: the same rows as a JSON list
of {benchmark, key, metric, baseline, now, ratio, low, high, mdc, verdict}, which dtbench-export
turns into gauges); exits 5 on any regression, 2 on bad
input. --update-baseline writes each key's runs as its baseline (and compares nothing)."""
import argparse
import hashlib
import json
import math
import os
import re
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
# Student's t quantiles by degrees of freedom (1..30; the normal's beyond): 97.5% (a 95%
# two-sided interval) and 80% (the power the minimum detectable change is stated at).
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
T80 = [1.376, 1.061, 0.978, 0.941, 0.920, 0.906, 0.896, 0.889, 0.883, 0.879, 0.876, 0.873, 0.870, 0.868, 0.866,
       0.865, 0.863, 0.862, 0.861, 0.860, 0.859, 0.858, 0.858, 0.857, 0.856, 0.856, 0.855, 0.855, 0.854, 0.854]


def t_quantiles(df):
    return (T975[df - 1], T80[df - 1]) if df <= len(T975) else (1.960, 0.842)


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


def center(runs):
    """A side's value: the geometric mean of its runs' medians (one run: its median)."""
    return math.exp(statistics.fmean(math.log(statistics.median(r)) for r in runs))


def run_median_test(now_runs, base_runs):
    """(ratio, 95% interval, minimum detectable change) from the runs' medians: a two-sample
    t interval on their logs (pooled variance), so run-to-run shifts are the noise it sees."""
    a = [math.log(statistics.median(r)) for r in now_runs]
    b = [math.log(statistics.median(r)) for r in base_runs]
    df = len(a) + len(b) - 2
    var = (sum((x - statistics.fmean(a)) ** 2 for x in a) + sum((x - statistics.fmean(b)) ** 2 for x in b)) / df
    se = math.sqrt(var * (1 / len(a) + 1 / len(b)))
    diff = statistics.fmean(a) - statistics.fmean(b)
    t, t_power = t_quantiles(df)
    return math.exp(diff), (math.exp(diff - t * se), math.exp(diff + t * se)), math.exp((t + t_power) * se) - 1


def step_bootstrap(now, base, seed=12345, rounds=2000):
    """(ratio of medians, 95% bootstrap interval, minimum detectable change) from one run a
    side: 2000 resamples of each side's samples (fixed seed). It sees step-to-step noise only."""
    ratio = statistics.median(now) / statistics.median(base)
    if len(now) < 2 and len(base) < 2:
        return ratio, (ratio, ratio), 0.0
    rng = np.random.default_rng(seed)
    draws = np.sort(resampled_medians(now, rng, rounds) / resampled_medians(base, rng, rounds))
    se = float(np.std(np.log(draws)))
    return ratio, (float(draws[int(0.025 * rounds)]), float(draws[int(0.975 * rounds) - 1])), \
        math.exp((1.960 + 0.842) * se) - 1


HISTORY_NIGHTS = 30  # the band is made of the last nights only: older ones knew other software


def history_band(nights):
    """The 95% prediction interval of one more night's value, from the last HISTORY_NIGHTS
    nights' values (at least 2): on their logs, the mean +- t(97.5%, K-1) x s x sqrt(1 + 1/K),
    s their sample standard deviation. What separates nights (another job's traffic, a
    different node set) is the noise it measures. Not a robust spread: nights have heavy tails
    (a night 10-20% slow now and then), and a band of the median +- 3 MAD, or a MAD-based
    prediction interval, flagged 2 and 1 of 10 unchanged nights on our CI machine."""
    logs = [math.log(x) for x in nights[-HISTORY_NIGHTS:]]
    mid = statistics.fmean(logs)
    half = t_quantiles(len(logs) - 1)[0] * statistics.stdev(logs) * math.sqrt(1 + 1 / len(logs))
    return math.exp(mid - half), math.exp(mid + half)


def verdict(now_runs, base_runs, lower_better, threshold, history=None):
    """(verdict, oriented ratio, interval, minimum detectable change) for one metric; each side
    a list of runs (lists of samples, all positive); history: earlier nights' medians. Three
    runs or more in all (two on one side): the t interval on run medians; else, one run a side,
    the bootstrap of its samples."""
    if min(min(r) for r in now_runs + base_runs) <= 0:
        return "noisy", math.nan, (math.nan, math.nan), math.inf
    if len(now_runs) + len(base_runs) >= 3:
        r, (lo, hi), mdc = run_median_test(now_runs, base_runs)
    else:
        r, (lo, hi), mdc = step_bootstrap(now_runs[0], base_runs[0])
    if not lower_better:  # orient: > 1 is worse
        r, lo, hi = 1 / r, 1 / hi, 1 / lo
    outside_band = True
    if history and len(history) >= MIN_NIGHTS:
        lo_band, hi_band = history_band(history)
        outside_band = not lo_band <= center(now_runs) <= hi_band
    if r > 1 + threshold and lo > 1 and outside_band:
        return "regression", r, (lo, hi), mdc
    if r < 1 - threshold and hi < 1 and outside_band:
        return "improvement", r, (lo, hi), mdc
    if mdc > threshold:  # the spread hides a change of the threshold's size: never "ok"
        return "noisy", r, (lo, hi), mdc
    return "ok", r, (lo, hi), mdc


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


def night_date(records, name):
    """A night's date: its file's name (nightly.sh names it YYYY-MM-DD), else its records'
    started_at date."""
    stem = name[: -len(".jsonl")]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", stem):
        return stem
    for rec in records:
        started = str(rec.get("started_at", ""))
        if re.match(r"\d{4}-\d{2}-\d{2}", started):
            return started[:10]
    return stem


def load_history(history_dir, tool):
    """{comparison key id: [(date, {metric: (samples, lower_is_better)}) per night, oldest
    first]} from <history>/*.jsonl (a file per night, one record per line, with `_key`; a
    night's repetitions of a key are pooled); read once per invocation. A line that is not a
    valid record (garbage, or an old line the schema no longer accepts) is reported on stderr
    and skipped: one bad night must not stop the nightly gate."""
    nights = {}
    if not history_dir or not os.path.isdir(history_dir):
        return nights
    for name in sorted(os.listdir(history_dir)):
        if not name.endswith(".jsonl"):
            continue
        path = os.path.join(history_dir, name)
        tonight = {}
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                rec, problem = history_problem(line)
                if problem:
                    print(f"{tool}: {path}:{number}: skipped: {problem}", file=sys.stderr)
                else:
                    tonight.setdefault(rec["_key"], []).append(rec)
        for kid, recs in tonight.items():
            pooled = {}
            for rec in recs:
                for metric, (values, lower) in samples(rec).items():
                    pooled.setdefault(metric, ([], lower))[0].extend(values)
            nights.setdefault(kid, []).append((night_date(recs, name), pooled))
    return nights


def baseline_path(baselines, record, kid):
    """<baselines>/<benchmark>-<key id>.json; the name is made safe and kept inside the folder."""
    return inside(baselines, file_part(f"{record['benchmark']}-{kid}") + ".json")


def repetition_path(first, k):
    """The k-th (1-based) repetition's file of the baseline whose first is `first`."""
    return first if k == 1 else f"{first[:-len('.json')]}.r{k}.json"


def baseline_paths(baselines, record, kid):
    """Every repetition's file of a key's baseline that exists, in order."""
    first, paths = baseline_path(baselines, record, kid), []
    while os.path.exists(repetition_path(first, len(paths) + 1)):
        paths.append(repetition_path(first, len(paths) + 1))
    return paths


def night_series(nights, metric):
    """[(date, median of `metric`)] over the nights of one key."""
    return [(date, statistics.median(n[metric][0])) for date, n in nights if metric in n]


def night_medians(nights, metric):
    """The medians of `metric` over the nights of one key."""
    return [m for _, m in night_series(nights, metric)]


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
    p.add_argument("--repetitions", type=int, default=1, metavar="R",
                   help="runs each side should hold per key (nightly: 3); fewer is compared with a warning")
    p.add_argument("--update-baseline", action="store_true")
    p.add_argument("--json", metavar="FILE", help="also write the verdicts as JSON (for dtbench-export --compare)")
    a = p.parse_args(argv)
    if a.repetitions < 1:
        print(f"dtbench-compare: --repetitions {a.repetitions}: want at least 1 run per key, e.g. 3",
              file=sys.stderr)
        return 2
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
    history = load_history(a.history, "dtbench-compare")
    loaded = load_records(a.runs, "dtbench-compare")
    if loaded is None:
        return 2
    groups = {}  # key id -> [(path, record)], in the order given
    for path, run in loaded:
        groups.setdefault(key_id(comparison_key(run, system)), []).append((path, run))
    if a.update_baseline:
        os.makedirs(a.baselines, exist_ok=True)
        for kid, runs in groups.items():
            first = baseline_path(a.baselines, runs[0][1], kid)
            for k, (path, run) in enumerate(runs, 1):
                tmp = repetition_path(first, k) + ".tmp"
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(dict(run, _key=kid, _key_fields=comparison_key(run, system)), f, indent=1)
                os.replace(tmp, repetition_path(first, k))
                print(f"baseline {repetition_path(first, k)} <- {path}")
            k = len(runs) + 1  # an older baseline's extra repetitions are not this one's
            while os.path.exists(repetition_path(first, k)):
                os.unlink(repetition_path(first, k))
                k += 1
        return 0
    rows, notes, regressions, verdicts = [], [], 0, []
    for kid, runs in groups.items():
        name = runs[0][1]["benchmark"]
        for _, run in runs:
            if run.get("status") != "ok":
                rows.append((name, "-", "-", "-", "-", "-", "-", f"run failed: {markdown_text(run.get('error'))}"))
        now = [run for _, run in runs if run.get("status") == "ok"]
        if not now:
            continue
        paths = baseline_paths(a.baselines, now[0], kid)
        if not paths:
            rows.append((name, "-", "-", "-", "-", "-", "-", f"no baseline for key {kid}: not compared"))
            continue
        try:
            base = [load_record(p) for p in paths]
        except BadRecord as e:
            print(f"dtbench-compare: baseline {e}", file=sys.stderr)
            return 2
        for side, count in (("the baseline", len(base)), ("the set compared", len(now))):
            if count < a.repetitions:
                notes.append(f"{name} {kid}: {side} holds {count} run(s), {a.repetitions} asked: its "
                             "interval is narrower than it should be (run-to-run noise is not in it)")
        now_s, base_s = [samples(r) for r in now], [samples(r) for r in base]
        metrics = set.intersection(*(set(x) for x in now_s + base_s))
        for metric in sorted(metrics):
            family = "busbw" if metric.startswith("busbw_") else metric
            th = thresholds.get(metric, thresholds.get(family, 0.05))
            hist = night_medians(history.get(kid, []), metric)
            lower = now_s[0][metric][1]
            now_runs, base_runs = [x[metric][0] for x in now_s], [x[metric][0] for x in base_s]
            v, r, (lo, hi), mdc = verdict(now_runs, base_runs, lower, th, hist)
            if any(metric.startswith(prefix) for prefix in a.ignore):
                v = "info"
            regressions += v == "regression"
            figures = {"baseline": center(base_runs), "now": center(now_runs), "ratio": r, "low": lo, "high": hi,
                       "mdc": mdc}
            verdicts.append({"benchmark": name, "key": kid, "metric": metric, "verdict": v,
                             **{k: float(x) if math.isfinite(x) else None for k, x in figures.items()}})
            rows.append((f"{name} {kid}", metric, fmt(center(base_runs)), fmt(center(now_runs)),
                         f"{r:.3f}", f"[{lo:.3f}, {hi:.3f}]", f"{100 * mdc:.1f}%", v))
    if rows:
        print("| record | metric | baseline | now | ratio (>1 worse) | 95% interval | min. detectable | verdict |")
        print("|---|---|---|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    for note in notes:
        print(f"dtbench-compare: warning: {note}", file=sys.stderr)
        print(f"\nwarning: {markdown_text(note)}")
    if regressions:
        print(f"\n{regressions} regression(s)")
    if a.json:
        tmp = f"{a.json}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(verdicts, f, indent=1, allow_nan=False)
        os.replace(tmp, a.json)
    return 5 if regressions else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
