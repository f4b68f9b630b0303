"""The validation scripts' table: the val_*.json records in DIR (trained with --hw-profile)
against their prediction, one Markdown row per layout, then the median and worst absolute error
of the step time. A layout run in rounds (val_NAME.rK.json) is measured by the median of its
runs' step times, their range beside it. --inter-node: the predicted inter-node communication
instead of peak memory.
    python3 benchmarks/planner/error_table.py DIR [--inter-node]
"""
import glob
import json
import os
import re
import statistics
import sys

out, inter_node = sys.argv[1], "--inter-node" in sys.argv[2:]
runs = {}
for f in sorted(glob.glob(os.path.join(out, "val_*.json"))):
    name = re.sub(r"\.r[0-9]+$", "", os.path.basename(f)[4:-5])
    runs.setdefault(name, []).append(json.load(open(f)))
rows = []
for name, records in runs.items():
    r = records[0]
    p = r["prediction"]
    steps = [x["metrics"]["step_time_s"]["median"] for x in records]
    measured = statistics.median(steps)
    cell = f"{measured:.4f}" + (f" ({min(steps):.2f}-{max(steps):.2f}, {len(steps)} runs)" if len(steps) > 1 else "")
    if inter_node:
        extra = [f"{sum(t['total_s'] for t in p['comm'] if t['level'] == 'inter_node'):.4f}"]
    else:
        extra = [f"{r['metrics']['peak_mem_bytes'] / 2**20:.0f}", f"{p['peak_mem_bytes'] / 2**20:.0f}"]
    err = abs(p["step_time_s"] - measured) / measured
    rows.append((err, [name, str(r["launch"]["world_size"]), cell, f"{p['step_time_s']:.4f}", f"{100 * err:.1f} %"] + extra))
head = ["layout (nodes x ranks)" if inter_node else "layout", "ranks", "measured step s", "predicted step s", "error"]
head += ["predicted inter-node comm s"] if inter_node else ["measured peak MiB", "predicted peak MiB"]
print("| " + " | ".join(head) + " |")
print("|" + " --- |" * len(head))
for _, cells in rows:
    print("| " + " | ".join(cells) + " |")
errs = [e for e, _ in rows]
print(f"\nmedian absolute error {100 * statistics.median(errs):.1f} %, worst {100 * max(errs):.1f} % "
      f"over {len(rows)} layouts")
