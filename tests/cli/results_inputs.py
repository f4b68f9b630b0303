"""results_inputs.py WORK TRAIN.json COLL.json: the results tools against crafted records.

Classes, each with several inputs, from two real records (a training and a collectives run):
  names     names outside the schema's safe set (shell, gnuplot, path and newline payloads)
            are refused by every tool, exit 2, one line naming the file and the field
  text      free text the schema allows (hosts, errors, file and folder names) reaches
            gnuplot, HTML, Markdown and Prometheus as data: nothing runs, the outputs escape it
  escapes   each escape against its output's own parser (gnuplot prints the literal back)
  malformed deep nesting, wrong types, NaN/Infinity/overflow, integers past 64 bits, bad
            UTF-8: exit 2 naming the file, never a traceback
  history   a garbage line and an old line that no longer validates are skipped and reported
  work      dtbench-compare on a 10,000-step record: the bootstrap's numpy calls are counted
Exit 0 when every check passes; prints one line per check."""
import contextlib
import copy
import io
import json
import math
import os
import re
import subprocess
import sys

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")
sys.path.insert(0, os.path.join(TOOLS, "results"))
import compare  # noqa: E402
import escape  # noqa: E402
import numpy as np  # noqa: E402

work, train_path, coll_path = sys.argv[1:4]
TRAIN = json.load(open(train_path))
COLL = json.load(open(coll_path))
failed = 0
canary = os.path.join(work, "PWNED")


def check(ok, what, detail=""):
    global failed
    print(f"{'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f": {detail}"))
    failed += not ok


def write(name, record=None, text=None):
    path = os.path.join(work, name)
    if text is None:
        text = json.dumps(record)
    with open(path, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    return path


def tool(name, *args):
    r = subprocess.run([os.path.join(TOOLS, f"dtbench-{name}"), *args], capture_output=True, text=True,
                       cwd=work, errors="replace")
    return r.returncode, r.stdout, r.stderr


def refused(path, field, tools=("validate", "compare", "report", "export")):
    """Every tool exits 2 on `path` with one line naming the file and `field`, no traceback."""
    for t in tools:
        args = {"validate": [path], "compare": ["--baselines", os.path.join(work, "base"), path],
                "report": ["--out", os.path.join(work, "report"), path],
                "export": ["--textfile-dir", os.path.join(work, "prom"), "--system", "s", path]}[t]
        rc, out, err = tool(t, *args)
        said = out + err
        if rc != 2 or "Traceback" in said or path not in said or field not in said:
            return f"dtbench-{t}: exit {rc}: {said.strip()[:300]}"
    return None


def with_field(record, where, value):
    r = copy.deepcopy(record)
    *up, last = where
    target = r
    for k in up:
        target = target[k]
    target[last] = value
    return r


# --- names: the schema's safe set, refused by every tool
payloads = ["x$(touch PWNED)", "`touch PWNED`", "../../etc/cron.d/x", "a\nb", "fsdp'; system(\"touch PWNED\") #",
            "Fsdp", "", "x" * 65]
for i, bad in enumerate(payloads):
    problem = refused(write(f"name{i}.json", with_field(TRAIN, ["benchmark"], bad)), "benchmark")
    check(problem is None, f"benchmark {bad[:24]!r} refused by every tool", problem)
for i, bad in enumerate(["../../x", "llama 3", "m\nodel", "$(id)"]):
    problem = refused(write(f"model{i}.json", with_field(TRAIN, ["config", "model_config", "model"], bad)),
                      "config/model_config/model", tools=("validate", "compare"))
    check(problem is None, f"model name {bad!r} refused", problem)

# --- text the schema allows goes through every output as data
hostile = "`touch PWNED`'\"; system('touch PWNED') <script>alert(1)</script> | *x* \\\n@macro"
rec = copy.deepcopy(TRAIN)
for pr in rec["per_rank"]:
    pr["host"] = hostile
rec["launch"]["source"] = hostile
rec["config"]["tags"] = {"t": hostile}
odd_dir = os.path.join(work, "out dir 'q' `touch PWNED`")
os.makedirs(odd_dir, exist_ok=True)
text_path = write("run '`touch PWNED`'.json", rec)
rc, out, err = tool("report", "--out", odd_dir, text_path)
check(rc == 0, "report of hostile text: exit 0", err)
page = open(os.path.join(odd_dir, "index.html")).read() if rc == 0 else ""
md = open(os.path.join(odd_dir, "report.md")).read() if rc == 0 else ""
check("<script>" not in page and "&lt;script&gt;" in page, "HTML escapes record text")
check("<script>" not in md and "&lt;script&gt;" in md and "\\|" in md, "Markdown escapes tags and table pipes")
check(all(p.endswith(".png") and os.path.getsize(os.path.join(odd_dir, p)) > 0
          for p in os.listdir(odd_dir) if not p.endswith((".html", ".md"))) and
      any(p.endswith(".png") for p in os.listdir(odd_dir)), "plots drawn into a folder whose name has quotes")
failed_rec = dict(copy.deepcopy(TRAIN), status="failed", error="boom | <b>x</b>\n| fake | row |")
write("failed.json", failed_rec)
os.makedirs(os.path.join(work, "base"), exist_ok=True)
rc, out, err = tool("compare", "--baselines", os.path.join(work, "base"), os.path.join(work, "failed.json"))
rows = [l for l in out.splitlines() if l.startswith("|")]
check(rc == 0 and len(rows) == 3 and "<b>" not in out, "an error text stays inside its table cell", out)
rc, out, err = tool("export", "--textfile-dir", os.path.join(work, "prom"), "--system", "s\"y\nz", text_path)
prom = open(os.path.join(work, "prom", "dtbench_fsdp_llama.prom")).read() if rc == 0 else ""
line_ok = re.compile(r'^(# (HELP|TYPE) .*|[a-z_]+\{([a-z_]+="([^"\\\n]|\\.)*",?)*\} [-+0-9.e]+)$')
check(rc == 0 and prom and all(line_ok.match(l) for l in prom.splitlines()), "Prometheus text stays well formed",
      prom[:200])
check(not os.path.exists(canary) and not os.path.exists(os.path.join(odd_dir, "PWNED")), "nothing ran")

# --- each escape against its own output's parser
samples = ["plain", "it's", 'say "hi"', "`touch PWNED`", "a\nb\tc", "@macro", "back\\slash", "±5%", "'';''", "''x", "$(id)"]
script = "\n".join(f"print {escape.gnuplot_string(s)}" for s in samples)
r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True, cwd=work)
check(r.returncode == 0 and r.stderr.splitlines() == [escape.one_line(s) for s in samples] and not os.path.exists(canary),
      "gnuplot prints every literal back, unchanged", r.stderr)
for s in ["a\"b", "c\\d", "e\nf", "g\rh"]:
    lit = escape.prometheus_label(s)
    check("\n" not in lit and "\r" not in lit and re.fullmatch(r'([^"\\]|\\[\\"n])*', lit) is not None,
          f"Prometheus label escape of {s!r}", lit)
for s, want in [("../../etc/passwd", "_.._etc_passwd"), ("..", "_"), (".hidden", "hidden"), ("a/b c", "a_b_c")]:
    check(escape.file_part(s) == want, f"file name part of {s!r}", escape.file_part(s))
try:
    escape.inside(work, "../x")
    check(False, "inside() refuses ../x")
except ValueError:
    check(True, "inside() refuses ../x")

# --- malformed records: exit 2 naming the file and the field, never a traceback
base = json.dumps(TRAIN)
cases = {
    "deep": ('{"x": ' + "[" * 100000 + "]" * 100000 + "}", "nested deeper"),
    "deep_config": (json.dumps(with_field(TRAIN, ["config", "deep"], [[[[[[[[]]]]]]]]))
                    .replace("[[[[[[[[]]]]]]]]", "[" * 70 + "]" * 70), "config/deep"),
    "nan": (base.replace('"time_s": ', '"time_s": NaN, "x": ', 1), "NaN"),
    "infinity": (base.replace('"loss_last": ', '"loss_last": -Infinity, "y": ', 1), "Infinity"),
    "overflow": (base.replace('"time_s": ', '"time_s": 1e999, "x": ', 1), "1e999"),
    "bigint": (base.replace('"step": ', '"step": 123456789012345678901234567890, "z": ', 1), "64 bits"),
    "utf8": (base.encode()[:40] + b"\xff\xfe" + base.encode()[40:], "utf-8"),
    "step_type": (json.dumps(with_field(TRAIN, ["steps", 1, "time_s"], "fast")), "steps/1/time_s"),
    "rank_type": (json.dumps(with_field(TRAIN, ["per_rank", 0, "step_time_median_s"], [])),
                  "per_rank/0/step_time_median_s"),
    "strategy_type": (json.dumps(with_field(TRAIN, ["config", "strategy"], ["fsdp"])), "config/strategy"),
    "mem_type": (json.dumps(with_field(TRAIN, ["metrics", "peak_mem_bytes"], "12")), "metrics/peak_mem_bytes"),
    "world_type": (json.dumps(with_field(TRAIN, ["launch", "world_size"], 0)), "launch/world_size"),
    "row_type": (json.dumps(with_field(COLL, ["rows", 0, "size_bytes"], "8")), "rows/0/size_bytes"),
    "busbw_type": (json.dumps(with_field(COLL, ["rows", 0, "out_of_place", "busbw_gbps"], -1)),
                   "rows/0/out_of_place/busbw_gbps"),
    "schema_type": (json.dumps(with_field(TRAIN, ["schema"], ["dtbench.result/v1"])), "schema version"),
    "not_object": ("[1, 2]", "not a JSON object"),
}
for name, (text, field) in cases.items():
    problem = refused(write(f"bad_{name}.json", text=text), field)
    check(problem is None, f"malformed ({name}) refused by every tool, naming {field}", problem)

# --- history: bad lines skipped and reported, the rest used
hist = os.path.join(work, "history")
os.makedirs(hist, exist_ok=True)
good = dict(copy.deepcopy(TRAIN), _key="k1")
old = dict(copy.deepcopy(TRAIN), _key="k1", benchmark="Old Name")
with open(os.path.join(hist, "nights.jsonl"), "w") as f:
    f.write(json.dumps(good) + "\n{{{ garbage\n" + json.dumps(old) + "\n" + json.dumps(good) + "\n")
with open(os.path.join(hist, "nights2.jsonl"), "w") as f:
    f.write(json.dumps(good) + "\n")
with contextlib.redirect_stderr(io.StringIO()) as said:
    nights = compare.load_history(hist, "test")
said = said.getvalue()
check(len(nights.get("k1", [])) == 2 and "nights.jsonl:2: skipped" in said and "nights.jsonl:3: skipped" in said,
      "history: 2 bad lines skipped and reported, 2 nights kept (a file's runs of a key pooled)", said)
rc, out, err = tool("compare", "--baselines", os.path.join(work, "base"), "--history", hist, train_path)
check(rc == 0 and "skipped" in err and "Traceback" not in err, "dtbench-compare goes on past bad history lines", err)
os.makedirs(os.path.join(work, "b2"), exist_ok=True)
rc, out, err = tool("compare", "--baselines", os.path.join(work, "b2"), "--update-baseline", train_path)
for name in os.listdir(os.path.join(work, "b2")):
    write(os.path.join("b2", name), text='{"schema": "dtbench.result/v1", "benchmark": 5}')
rc, out, err = tool("compare", "--baselines", os.path.join(work, "b2"), train_path)
check(rc == 2 and "baseline" in err and "b2" in err and "Traceback" not in err, "a broken baseline: exit 2 naming it",
      err)
for bad in ["nan", "-1", "0", "inf", "x"]:
    rc, out, err = tool("compare", "--baselines", os.path.join(work, "base"), "--threshold", f"step_time_s={bad}",
                        train_path)
    check(rc == 2 and "--threshold" in err, f"--threshold step_time_s={bad}: exit 2", err)

# --- work: the bootstrap is a few numpy calls per metric, whatever the record's length
calls = {"median": 0, "values": 0}
real_median = np.median


def counting_median(a, *args, **kwargs):
    calls["median"] += 1
    calls["values"] += np.size(a)
    return real_median(a, *args, **kwargs)


rng = np.random.default_rng(7)
for n in (10000, 100):
    now, was = list(1 + 0.01 * rng.standard_normal(n)), list(1 + 0.01 * rng.standard_normal(n))
    calls.update(median=0, values=0)
    np.median = counting_median
    try:
        v, r, (lo, hi), _ = compare.verdict([now], [was], True, 0.05)  # one run a side: the bootstrap
    finally:
        np.median = real_median
    blocks = math.ceil(2000 / max(1, compare.RESAMPLE_BLOCK // n))
    check(calls["median"] <= 2 * blocks + 2 and calls["values"] <= 2 * 2000 * n + 2 * n,
          f"{n} steps: {calls['median']} numpy median calls over {calls['values']} values "
          f"(at most {2 * blocks + 2}); verdict {v}, interval [{lo:.4f}, {hi:.4f}]", str(calls))
    check(v == "ok" and lo < 1 < hi, f"{n} steps of one distribution: ok with 1 inside the interval", f"{v} {lo} {hi}")
long = copy.deepcopy(TRAIN)
long["steps"] = [{"step": i, "loss": 1.0, "time_s": 1 + 0.01 * math.sin(i), "tokens_per_s": 100.0} for i in range(10000)]
long_path = write("long.json", long)
tool("compare", "--baselines", os.path.join(work, "b3"), "--update-baseline", long_path)
rc, out, err = tool("compare", "--baselines", os.path.join(work, "b3"), long_path)
check(rc == 0 and "| step_time_s |" in out, "dtbench-compare on a 10,000-step record against itself: exit 0", out + err)
sys.exit(1 if failed else 0)
