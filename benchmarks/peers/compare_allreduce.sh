#!/usr/bin/env bash
# collectives_perf (mpi backend) against a plain MPI_Allreduce loop, side by side in one
# run: same ranks, sizes, float buffers, out-of-place sum, iterations and warm-up. The two
# programs alternate per repetition so that drift hits both alike. For each size it prints
# the busbw of both from rank 0's median iteration (robust to the hiccups of a shared
# machine), the median over repetitions, and the ratio dtbench / MPI.
#   benchmarks/peers/compare_allreduce.sh [NP] [REPS] [ITERS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${DTBENCH_BUILD_DIR:-$root/build}"
np="${1:-2}"
reps="${2:-5}"
iters="${3:-50}"
sizes=(-b 1M -e 64M)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for rep in $(seq "$reps"); do
  "$root/launch/mpirun-local" "$np" "$bin/benchmarks/collectives_perf" --op all_reduce "${sizes[@]}" -f 2 \
    -n "$iters" -w 5 -c 0 --out "$work/dt.$rep.json" >/dev/null
  "$root/launch/mpirun-local" "$np" "$bin/benchmarks/mpi_allreduce_peer" "${sizes[@]}" -f 2 -n "$iters" -w 5 \
    >"$work/peer.$rep"
done
python3 - "$work" "$reps" "$np" <<'PY'
import json, statistics, sys
work, reps, np = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
factor = 2 * (np - 1) / np
busbw = lambda size, us: size / (us * 1e-6) / 1e9 * factor
dt, peer = {}, {}
for rep in range(1, reps + 1):
    for row in json.load(open(f"{work}/dt.{rep}.json"))["rows"]:
        dt.setdefault(row["size_bytes"], []).append(busbw(row["size_bytes"], row["out_of_place"]["samples_us"]["median"]))
    for line in open(f"{work}/peer.{rep}"):
        f = line.split()
        if f and not line.startswith("#"):
            peer.setdefault(int(f[0]), []).append(busbw(int(f[0]), float(f[3])))
print(f"# all_reduce float sum, {np} ranks: busbw (GB/s) of rank 0's median iteration, median of {reps} alternating runs")
print(f"{'size':>10} {'dtbench':>9} {'MPI loop':>9} {'ratio':>6}")
for size in sorted(dt):
    a, b = statistics.median(dt[size]), statistics.median(peer[size])
    print(f"{size:>10} {a:>9.3f} {b:>9.3f} {a / b:>6.3f}")
PY
