"""The compare rule on synthetic step samples (fixed seeds): a planted 10% slowdown is flagged
in every one of 100 trials; two samples of the same distribution are flagged at most 5 times
in 100; a run whose spread is too wide is "noisy", not a verdict."""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "results"))
from compare import verdict  # noqa: E402

rng = random.Random(2026)
draw = lambda n, scale, sigma=0.03: [scale * rng.lognormvariate(0, sigma) for _ in range(n)]
flagged = sum(verdict(draw(20, 1.10), draw(20, 1.0), True, 0.05)[0] == "regression" for _ in range(100))
false = sum(verdict(draw(20, 1.0), draw(20, 1.0), True, 0.05)[0] == "regression" for _ in range(100))
throughput = sum(verdict(draw(20, 1 / 1.10), draw(20, 1.0), False, 0.05)[0] == "regression" for _ in range(100))
noisy = verdict(draw(20, 1.0, 0.5), draw(20, 1.0, 0.5), True, 0.05)[0]
history = [1.0 + 0.01 * rng.uniform(-1, 1) for _ in range(8)]
in_band = verdict(draw(20, 1.10), draw(20, 1.0), True, 0.05, history=[h * 1.10 for h in history])[0]
print(f"    planted 10% slowdown flagged in {flagged}/100; same distribution flagged in {false}/100; "
      f"10% throughput drop flagged in {throughput}/100; wide spread -> {noisy}; inside the nightly band -> {in_band}")
ok = flagged == 100 and false <= 5 and throughput == 100 and noisy == "noisy" and in_band != "regression"
sys.exit(0 if ok else 1)
