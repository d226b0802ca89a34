/* hardware/ ceilings: short micro-benchmarks in the spirit of STREAM and the Empirical
 * Roofline Toolkit, each readable in one sitting. A run repeats the measurement until
 * min_time has passed and reports the best repetition and the spread. */
#ifndef QBENCH_HARDWARE_CEILINGS_H
#define QBENCH_HARDWARE_CEILINGS_H

#include <stddef.h>

#include "common/qc.h"

enum { QH_MAX_REPS = 1000 };

typedef struct qh_rate {
    double best;   /* the highest rate seen (GB/s or GFLOP/s) */
    double median;
    double cv;     /* coefficient of variation of the repetitions */
    int reps;
    double rate[QH_MAX_REPS]; /* every repetition */
} qh_rate;

/* Adds b's repetitions to a and summarizes them together. */
void qh_rate_merge(qh_rate *a, const qh_rate *b);

/* Read-only streaming over `bytes` (a working set; use several times the last-level cache
 * for DRAM) on `threads` threads: GB/s of data read. */
int qh_stream_read(size_t bytes, int threads, double min_time, qh_rate *out, qc_msgs *err);
/* Register-resident fp32 FMA (AVX2 + FMA, 12 independent chains per thread) on `threads`
 * threads: GFLOP/s, counting an FMA as 2 FLOPs. QC_EINPUT on a CPU without FMA. */
int qh_fma_peak(int threads, double min_time, qh_rate *out, qc_msgs *err);

#endif
