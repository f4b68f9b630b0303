#!/usr/bin/env python3
"""Checks a collectives_perf -J file against nccl-tests 2.19's JSON (JSON_FILE_VERSION 3, as its
src/util.cu writes it and its tools/analyze_perf_json.py reads it): one line without spaces;
the keys in nccl-tests' order with its types (booleans as "true"/"false" strings, doubles with
6 decimals, the root a string of width 6, nwrong a double or null); with -I, times_us the max
over the process rows and every summary recomputed from times_us[K:] with nccl-tests'
formulas (nearest-rank p95/p99, p50 = sorted[n/2], population stdev).

    nccl_json_check.py FILE RANKS ITERS [SKIP]
Exit 1 naming the first difference."""
import json
import math
import re
import sys

TOP = ["version", "start_time", "args", "env", "nccl_version", "config", "results", "out_of_bounds",
       "average_bus_bandwidth", "errors", "end_time"]
CONFIG = ["nthreads", "ngpus", "minimum_bytes", "maximum_bytes", None, "warmup_iters", "iterations",
          "aggregated_iterations", "validation", "graph", "blocking_collectives", "per_iter_timing", "per_iter_skip",
          "parallel_init", "devices"]
DEVICE = ["rank", "group", "pid", "hostname", "device", "device_hex", "device_info"]
PLACEMENT = ["time", "alg_bw", "bus_bw", "nwrong"]
PER_ITER = ["skipped_iterations", "min_us", "max_us", "avg_us", "p50_us", "p95_us", "p99_us", "stdev_us", "cv_pct",
            "times_us"]
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def stats(v):
    v = sorted(v)
    n = len(v)
    rank = lambda p: min(n - 1, (n * p + 99) // 100 - 1)
    avg = sum(v) / n
    sd = math.sqrt(sum((x - avg) ** 2 for x in v) / n)
    return {"min_us": v[0], "max_us": v[-1], "avg_us": avg, "p50_us": v[n // 2], "p95_us": v[rank(95)],
            "p99_us": v[rank(99)], "stdev_us": sd, "cv_pct": sd / avg * 100 if avg > 0 else 0.0}


def main(path, ranks, iters, skip):
    text = open(path).read()
    check("\n" not in text, "the file is one line")
    outside = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    check(" " not in outside, "no space outside strings")
    for num in re.findall(r'(?<=[:,\[])(-?\d+\.\d+)(?=[,\]}])', outside):
        check(len(num.split(".")[1]) == 6, f"double {num} has 6 decimals (%lf)")
    d = json.loads(text)
    check(list(d) == TOP, f"top-level keys {list(d)}")
    check(d["version"] == 3 and isinstance(d["nccl_version"], int), "version 3, nccl_version an int")
    check(TIME.match(d["start_time"]) and TIME.match(d["end_time"]), "start_time/end_time as %Y-%m-%d %H:%M:%S")
    check(all(isinstance(a, str) for a in d["args"]) and d["args"][0].endswith("collectives_perf"), "args = argv")
    check(all("=" in e for e in d["env"]), "env as NAME=value")
    c = d["config"]
    keys = list(c)
    check(keys[4] in ("step_factor", "step_bytes"), f"step_factor or step_bytes: {keys}")
    check([k for k, want in zip(keys, CONFIG) if want is not None] == [w for w in CONFIG if w is not None]
          and len(keys) == len(CONFIG), f"config keys {keys}")
    check(c["iterations"] == iters and c["per_iter_skip"] == skip, "iterations and per_iter_skip as given")
    for k in ("blocking_collectives", "per_iter_timing", "parallel_init"):
        check(c[k] in ("true", "false"), f"config.{k} a \"true\"/\"false\" string")
    per_iter = c["per_iter_timing"] == "true"
    check(len(c["devices"]) == ranks, f"one device per process: {len(c['devices'])}")
    for r, dev in enumerate(c["devices"]):
        check(list(dev) == DEVICE and dev["rank"] == r and dev["hostname"], f"device {r}: {dev}")
    check(d["results"], "results")
    count = 0
    for row in d["results"]:
        check(isinstance(row["size"], int) and isinstance(row["count"], int), "size and count are integers")
        check(isinstance(row["root"], str) and len(row["root"]) == 6 and int(row["root"]) >= -1, f"root {row['root']!r}")
        want = ["size", "count", "type", "redop", "root", "out_of_place"] + (["out_of_place_per_iter"] if per_iter else [])
        want += ["in_place"] + (["in_place_per_iter"] if per_iter and row["in_place"] is not None else [])
        want += ["actual_iterations", "experiment_name"]
        check(list(row) == want, f"row keys {list(row)}")
        check(row["actual_iterations"] == iters and row["experiment_name"] == "", "actual_iterations, experiment_name")
        for place in ("out_of_place", "in_place"):
            p = row[place]
            if p is None:
                continue
            check(list(p) == PLACEMENT, f"{place} keys {list(p)}")
            check(p["nwrong"] is None if c["validation"] == 0 else p["nwrong"] == 0.0, f"{place} nwrong {p['nwrong']}")
            count += 1
            if not per_iter:
                continue
            q = row[place + "_per_iter"]
            rows = q.get("per_process_max_times_us", [])
            check(list(q) == PER_ITER + (["per_process_max_times_us"] if ranks > 1 else []), f"per-iter keys {list(q)}")
            check(q["skipped_iterations"] == skip and len(q["times_us"]) == iters, "every iteration in times_us")
            if ranks > 1:
                check(len(rows) == ranks and all(len(x) == iters for x in rows), "a row per process")
                check(all(abs(t - max(x[i] for x in rows)) < 1e-3 for i, t in enumerate(q["times_us"])),
                      "times_us is the max over the process rows")
            # From the file's 6-decimal times: picks (min, p50, ...) match exactly, sums to the
            # rounding; a wrong formula (a sample stdev, an interpolated percentile) is off by far more.
            for k, v in stats(q["times_us"][skip:]).items():
                check(abs(q[k] - v) <= 1e-4 * abs(v) + 2e-6, f"{k} {q[k]} recomputes as {v}")
    check(d["out_of_bounds"] == {"count": 0, "okay": "true"}, f"out_of_bounds {d['out_of_bounds']}")
    avg = d["average_bus_bandwidth"]
    check(list(avg) == ["bandwidth", "okay"] and avg["okay"] in ("unchecked", "true", "false"), f"average {avg}")
    bw = [row[p]["bus_bw"] for row in d["results"] for p in ("out_of_place", "in_place") if row[p] is not None]
    check(abs(avg["bandwidth"] - sum(bw) / len(bw)) < 1e-5, "average_bus_bandwidth is the mean bus_bw")
    check(d["errors"] == [""], f"errors {d['errors']}")
    print(f"    {path}: {len(d['results'])} rows, {count} placements, nccl-tests 2.19 JSON (version 3)"
          f"{', per-iteration figures recomputed' if per_iter else ''}")


if __name__ == "__main__":
    try:
        main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    except (AssertionError, KeyError, ValueError, TypeError) as e:
        print(f"nccl_json_check: {sys.argv[1]}: {e!r}", file=sys.stderr)
        sys.exit(1)
