#!/usr/bin/env bash
# collectives_perf (mpi backend) against a plain MPI_Allreduce loop, side by side in one
# run: same ranks, sizes, float buffers, out-of-place sum, iterations and warm-up. Prints
# each size's busbw of both and the ratio. Alternates the two programs per repetition so
# that drift hits both alike; the figure per size is the median over repetitions.
#   benchmarks/peers/compare_allreduce.sh [NP] [REPS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${DTBENCH_BUILD_DIR:-$root/build}"
np="${1:-2}"
reps="${2:-3}"
sizes=(-b 1M -e 64M)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for rep in $(seq "$reps"); do
  "$root/launch/mpirun-local" "$np" "$bin/benchmarks/collectives_perf" --op all_reduce "${sizes[@]}" -f 2 -n 20 -w 5 -c 0 \
    >"$work/dt.$rep"
  "$root/launch/mpirun-local" "$np" "$bin/benchmarks/mpi_allreduce_peer" "${sizes[@]}" -f 2 -n 20 -w 5 >"$work/peer.$rep"
done
python3 - "$work" "$reps" "$np" <<'PY'
import statistics, sys
work, reps, np = sys.argv[1], int(sys.argv[2]), sys.argv[3]
dt, peer = {}, {}
for rep in range(1, reps + 1):
    for line in open(f"{work}/dt.{rep}"):
        f = line.split()
        if f and not line.startswith("#"):
            dt.setdefault(int(f[0]), []).append(float(f[7]))   # out-of-place busbw
    for line in open(f"{work}/peer.{rep}"):
        f = line.split()
        if f and not line.startswith("#"):
            peer.setdefault(int(f[0]), []).append(float(f[2]))
print(f"# all_reduce float sum, {np} ranks, median busbw of {reps} alternating runs (GB/s)")
print(f"{'size':>10} {'dtbench':>9} {'MPI loop':>9} {'ratio':>6}")
for size in sorted(dt):
    a, b = statistics.median(dt[size]), statistics.median(peer[size])
    print(f"{size:>10} {a:>9.3f} {b:>9.3f} {a / b:>6.3f}")
PY
