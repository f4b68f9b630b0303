/* The peer of collectives_perf's mpi backend: a plain MPI_Allreduce loop over the same
 * sizes, the same float buffers (out-of-place, sum) and the same iteration counts, timed
 * the same way (mean per op, averaged over ranks). No dtbench code on purpose.
 *
 *   mpirun -np N mpi_allreduce_peer -b 1M -e 64M -f 2 -n 20 -w 5
 *
 * Prints one line per size: "size_bytes time_us busbw_gbps median_us": the mean per op
 * averaged over ranks (nccl-tests' figure) and rank 0's median iteration. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static long long parse_size(const char* s) {
  char* end = NULL;
  long long v = strtoll(s, &end, 10);
  if (*end == 'K') v <<= 10;
  if (*end == 'M') v <<= 20;
  if (*end == 'G') v <<= 30;
  return v;
}

int main(int argc, char** argv) {
  long long minb = 1 << 20, maxb = 64 << 20, factor = 2;
  int iters = 20, warmup = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-b")) minb = parse_size(argv[i + 1]);
    else if (!strcmp(argv[i], "-e")) maxb = parse_size(argv[i + 1]);
    else if (!strcmp(argv[i], "-f")) factor = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "-n")) iters = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-w")) warmup = atoi(argv[i + 1]);
    else { fprintf(stderr, "mpi_allreduce_peer: unknown flag %s; use -b -e -f -n -w\n", argv[i]); return 2; }
  }
  if (minb <= 0 || maxb < minb || factor < 2 || iters < 1) {
    fprintf(stderr, "mpi_allreduce_peer: need 0 < -b <= -e, -f >= 2, -n >= 1\n");
    return 2;
  }
  MPI_Init(&argc, &argv);
  int rank, n;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  float* in = malloc((size_t)maxb);
  float* out = malloc((size_t)maxb);
  for (long long i = 0; i < maxb / 4; ++i) in[i] = (float)((i * 3 + (long long)rank * 7) % 5 - 2);
  double* samples = malloc(sizeof(double) * (size_t)iters);
  if (rank == 0) printf("# size_bytes time_us busbw_gbps median_us\n");
  for (long long size = minb; size <= maxb; size *= factor) {
    int count = (int)(size / 4);
    for (int w = 0; w < warmup; ++w) MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    double total = 0;
    for (int it = 0; it < iters; ++it) {
      double t0 = MPI_Wtime();
      MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      samples[it] = MPI_Wtime() - t0;
      total += samples[it];
    }
    qsort(samples, (size_t)iters, sizeof(double), cmp_double);
    double median_us = (iters % 2 ? samples[iters / 2] : 0.5 * (samples[iters / 2 - 1] + samples[iters / 2])) * 1e6;
    double mean_us = total / iters * 1e6, sum_us = 0;
    MPI_Allreduce(&mean_us, &sum_us, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double t_us = sum_us / n;
    double busbw = (double)(count * 4LL) / (t_us * 1e-6) / 1e9 * 2.0 * (n - 1) / n;
    if (rank == 0) printf("%lld %.2f %.4f %.2f\n", (long long)count * 4, t_us, busbw, median_us);
  }
  free(samples);
  free(in);
  free(out);
  MPI_Finalize();
  return 0;
}
