"""The compare rule on synthetic runs (fixed seeds). Each run's steps share a run-level shift
(lognormal, sigma 4%: what separates back-to-back runs on a shared machine) on top of
step-to-step noise (sigma 3%); a side holds R = 3 runs, as the nightly run makes them:
  - unchanged: flagged as a regression in at most 2 of 100 trials (with one run a side, the
    step-only interval misses the run shift: that rate is printed beside it, higher);
  - a planted 25% slowdown: flagged in every one of 100 trials; 10%: its rate is printed;
  - a 10% throughput drop: flagged in every trial at step noise alone;
  - a spread that hides a 5% change (minimum detectable change above the threshold): "noisy",
    never "ok"; inside the nightly band: not a regression; the band of 10 nights 4% apart
    holds an ordinary night, not one 25% slower."""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "results"))
from compare import history_band, verdict  # noqa: E402

rng = random.Random(2026)


def run(scale, run_sigma=0.04, step_sigma=0.03, steps=11):
    shift = rng.lognormvariate(0, run_sigma)
    return [scale * shift * rng.lognormvariate(0, step_sigma) for _ in range(steps)]


def side(scale, runs=3, **kw):
    return [run(scale, **kw) for _ in range(runs)]


def rate(scale, runs=3, trials=100, **kw):
    return sum(verdict(side(scale, runs, **kw), side(1.0, runs, **kw), True, 0.05)[0] == "regression"
               for _ in range(trials))


false3, false1 = rate(1.0), rate(1.0, runs=1)
caught25, caught10 = rate(1.25), rate(1.10)
throughput = sum(verdict(side(1 / 1.10, run_sigma=0), side(1.0, run_sigma=0), False, 0.05)[0] == "regression"
                 for _ in range(100))
noisy, _, _, mdc = verdict(side(1.0, run_sigma=0.3), side(1.0, run_sigma=0.3), True, 0.05)
history = [1.0 + 0.01 * rng.uniform(-1, 1) for _ in range(8)]
in_band = verdict(side(1.10, run_sigma=0), side(1.0, run_sigma=0), True, 0.05, history=[h * 1.10 for h in history])[0]
# Nights that differ by 4% (lognormal): a night 25% slower is outside their band, one as they are inside.
nights = [rng.lognormvariate(0, 0.04) for _ in range(10)]
lo, hi = history_band(nights)
band_ok = lo < 1.0 < hi and not lo <= 1.25 <= hi
print(f"    R=3 runs a side: unchanged flagged in {false3}/100 (one run a side: {false1}/100); planted 25% slowdown "
      f"caught in {caught25}/100, 10% in {caught10}/100; 10% throughput drop (no run shift) caught in "
      f"{throughput}/100; 30% run spread -> {noisy} (minimum detectable change {100 * mdc:.0f}%); inside the "
      f"nightly band -> {in_band}; band of 10 nights (4% apart) [{lo:.3f}, {hi:.3f}]")
ok = (false3 <= 2 and false1 > false3 and caught25 == 100 and throughput == 100 and noisy == "noisy" and mdc > 0.05
      and in_band != "regression" and band_ok)
sys.exit(0 if ok else 1)
