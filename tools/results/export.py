"""dtbench-export: result records as Prometheus metrics.

    dtbench-export [--pushgateway URL] [--textfile-dir DIR] [--job NAME] [--compare FILE.json]
                   --system NAME RUN.json ...

Gauges per record (no timestamps; Prometheus stamps them when it scrapes):
  dtbench_step_time_seconds{stat="median|p10|p90"}, dtbench_tokens_per_second,
  dtbench_tflops_per_device, dtbench_mfu, dtbench_peak_memory_bytes, dtbench_loss_last,
  dtbench_busbw_gbytes_per_second{op, bytes} (collectives), dtbench_run_ok,
  dtbench_rank_step_time_seconds{rank, host, stat="median|p90"} (one series per rank),
each series labelled with the record's system, benchmark, comparison key, model and world_size.
--compare (dtbench-compare --json's verdicts): per key and metric
  dtbench_compare_ratio{metric, verdict} (now / baseline, > 1 worse) and
  dtbench_compare_regression{metric} (1 when the verdict is "regression", else 0).
--pushgateway: one group per benchmark, grouping key job/system/benchmark (PUT replaces the
group's previous figures). --textfile-dir: one
dtbench_<benchmark>.prom per benchmark for node_exporter's textfile collector, written to a
temporary file and renamed, so the collector never reads half a file. Exit 2 on bad input,
3 when the Pushgateway cannot be reached (said in one line; the textfiles are written all the same)."""
import argparse
import json
import math
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from compare import busbw_rows, comparison_key, key_id
from escape import file_part, prometheus_label
from validate import load_records


def label_text(labels):
    return ",".join(f'{k}="{prometheus_label(v)}"' for k, v in sorted(labels.items()))


def exposition(records, system, verdicts=()):
    """Records of one benchmark (and the compare verdicts of that benchmark) in Prometheus' text
    format: each metric's HELP and TYPE once, a series per record labelled with its system,
    benchmark, comparison key, model and world size."""
    series = {}  # name -> (help, [lines])

    def add(name, value, help_text, labels):
        if value is not None:
            series.setdefault(name, (help_text, []))[1].append(f"{name}{{{label_text(labels)}}} {float(value):.9g}")

    for record in records:
        m = record.get("metrics", {})
        cfg = record.get("config", {})
        mc = cfg.get("model_config") if isinstance(cfg.get("model_config"), dict) else {}
        base = {"system": system, "benchmark": record["benchmark"], "key": key_id(comparison_key(record, system)),
                "model": mc.get("model", ""), "world_size": record["launch"]["world_size"]}

        def gauge(name, value, help_text, **extra):
            add(name, value, help_text, dict(base, **extra))

        st = m.get("step_time_s") or {}
        for stat in ("median", "p10", "p90"):
            gauge("dtbench_step_time_seconds", st.get(stat), "step time over the timed steps", stat=stat)
        gauge("dtbench_tokens_per_second", m.get("tokens_per_s"), "tokens per second, the whole job")
        gauge("dtbench_tflops_per_device", m.get("tflops_per_device"), "model TFLOP/s per device")
        gauge("dtbench_mfu", m.get("mfu"), "model FLOPs utilisation")
        gauge("dtbench_peak_memory_bytes", m.get("peak_mem_bytes"), "largest per-rank peak memory")
        gauge("dtbench_loss_last", m.get("loss_last"), "loss at the last step")
        for size, busbw, _ in busbw_rows(record):
            gauge("dtbench_busbw_gbytes_per_second", busbw, "out-of-place bus bandwidth per message size",
                  op=cfg.get("op", ""), bytes=size)
        gauge("dtbench_run_ok", 1 if record.get("status") == "ok" else 0, "1 when the run succeeded")
        for r in record.get("per_rank") or []:
            for stat in ("median", "p90"):
                gauge("dtbench_rank_step_time_seconds", r.get(f"step_time_{stat}_s"), "step time of one rank",
                      rank=r["rank"], host=r.get("host", ""), stat=stat)
            if "straggler_score" in r:
                gauge("dtbench_rank_straggler_score", r["straggler_score"],
                      "median share of a step the others waited for this rank (>= 0.1: a straggler)",
                      rank=r["rank"], host=r.get("host", ""), cause=r.get("straggler_cause") or "none")
    for v in verdicts:
        labels = {"system": system, "benchmark": v["benchmark"], "key": v["key"], "metric": v["metric"]}
        add("dtbench_compare_ratio", v["ratio"], "now / baseline of the nightly compare, > 1 worse",
            dict(labels, verdict=v["verdict"]))
        add("dtbench_compare_regression", 1 if v["verdict"] == "regression" else 0,
            "1 when the nightly compare judged the metric a regression", labels)
    out = []
    for name, (help_text, lines) in series.items():
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"] + lines
    return "\n".join(out) + "\n"


def push(url, job, system, benchmark, text):
    path = "/".join(urllib.parse.quote(p, safe="") for p in ("job", job, "system", system, "benchmark", benchmark))
    req = urllib.request.Request(f"{url.rstrip('/')}/metrics/{path}", data=text.encode(), method="PUT",
                                 headers={"Content-Type": "text/plain; version=0.0.4"})
    with urllib.request.urlopen(req, timeout=30) as r:
        if r.status // 100 != 2:
            raise urllib.error.HTTPError(req.full_url, r.status, r.reason, r.headers, None)


VERDICT_FIELDS = {"benchmark": str, "key": str, "metric": str, "verdict": str, "ratio": (int, float, type(None))}


def load_verdicts(path):
    """dtbench-compare --json's list, each entry checked for the fields the gauges use (None on
    bad input, after one line naming the file and the problem)."""
    try:
        with open(path, encoding="utf-8") as f:
            verdicts = json.load(f)
        if not isinstance(verdicts, list):
            raise ValueError("want a JSON list (dtbench-compare --json)")
        for i, v in enumerate(verdicts):
            bad = [k for k, t in VERDICT_FIELDS.items() if not isinstance(v, dict) or not isinstance(v.get(k), t)]
            if not bad and v["ratio"] is not None and not math.isfinite(v["ratio"]):
                bad = ["ratio"]
            if bad:
                raise ValueError(f"entry {i}: missing or mistyped {', '.join(bad)}")
        return verdicts
    except (OSError, ValueError) as e:
        print(f"dtbench-export: --compare {path}: {e}", file=sys.stderr)
        return None


def main(argv):
    p = argparse.ArgumentParser(prog="dtbench-export", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--pushgateway", metavar="URL")
    p.add_argument("--textfile-dir", metavar="DIR")
    p.add_argument("--job", default="dtbench")
    p.add_argument("--system", required=True)
    p.add_argument("--compare", metavar="FILE.json", help="dtbench-compare --json verdicts to export too")
    a = p.parse_args(argv)
    if not a.pushgateway and not a.textfile_dir:
        print("dtbench-export: give --pushgateway URL and/or --textfile-dir DIR", file=sys.stderr)
        return 2
    by_benchmark = {}
    loaded = load_records(a.runs, "dtbench-export")
    if loaded is None:
        return 2
    for _, record in loaded:
        by_benchmark.setdefault(record["benchmark"], []).append(record)
    verdicts = load_verdicts(a.compare) if a.compare else []
    if verdicts is None:
        return 2
    unreachable = None
    for bench, records in by_benchmark.items():
        text = exposition(records, a.system, [v for v in verdicts if v["benchmark"] == bench])
        if a.pushgateway and not unreachable:
            try:
                push(a.pushgateway, a.job, a.system, bench, text)
                print(f"pushed {len(records)} {bench} record(s) to {a.pushgateway} (job {a.job}, system {a.system})")
            except (OSError, urllib.error.URLError) as e:
                # One line, and the textfiles are still written; the records are untouched.
                unreachable = f"dtbench-export: cannot push to {a.pushgateway}: {getattr(e, 'reason', e)}"
                print(unreachable, file=sys.stderr)
        if a.textfile_dir:
            os.makedirs(a.textfile_dir, exist_ok=True)
            final = os.path.join(a.textfile_dir, f"dtbench_{file_part(bench)}.prom")
            tmp = f"{final}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
            print(f"wrote {final}")
    return 3 if unreachable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
