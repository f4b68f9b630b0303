#!/usr/bin/env python3
"""compare_losses.py REF RUN LABEL [--rtol X] [--steps FIRST LAST] [--field NAME]

The per-step losses of two result records agree: bitwise with --rtol 0, else to X
relative (default 1e-5), over 0-based steps FIRST..LAST (default: every step of REF, and
RUN has the same steps). --field compares another per-step figure (aux_loss). Prints the
largest difference; exits 1 when they disagree."""
import argparse
import json
import sys

p = argparse.ArgumentParser()
p.add_argument("ref")
p.add_argument("run")
p.add_argument("label")
p.add_argument("--rtol", type=float, default=1e-5)
p.add_argument("--steps", type=int, nargs=2)
p.add_argument("--field", default="loss")
a = p.parse_args()
ref = {s["step"]: s[a.field] for s in json.load(open(a.ref))["steps"]}
run = {s["step"]: s[a.field] for s in json.load(open(a.run))["steps"]}
steps = range(a.steps[0], a.steps[1] + 1) if a.steps else sorted(ref)
missing = [k + 1 for k in steps if k not in ref or k not in run]
if missing or (not a.steps and sorted(run) != sorted(ref)):
    sys.exit(f"    {a.label}: steps missing or extra (1-based: {missing or sorted(set(run) ^ set(ref))})")
worst = max(abs(ref[k] - run[k]) / abs(ref[k]) for k in steps)
kind = "bitwise" if a.rtol == 0 else f"to {a.rtol:g}"
print(f"    {a.label}: largest relative {a.field.replace('_', ' ')} difference {worst:.2e} over steps "
      f"{steps[0] + 1}-{steps[-1] + 1} (want {kind})")
sys.exit(0 if worst <= a.rtol else 1)
