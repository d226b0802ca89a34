/* cbench: a C API over Google Benchmark (libbenchmark). Register one C callback with a name,
 * let Google Benchmark choose the iteration count and run the repetitions, and get the run's
 * statistics back as a C struct together with Google Benchmark's own JSON for it, so that a
 * results file stays a superset of its format (and its compare.py works on it).
 *
 *   double one_call(void *ctx) { run the kernel once; return -1 (or the seconds it took when
 *                                options.manual_time is set, e.g. from CUDA events) }
 *   cbench_options o = {.min_time = 0.1, .repetitions = 5};
 *   cbench_result r;   (with .max_cv = 0.03, .budget_s = 2: rounds until the cv is within 3%)
 *   cbench_run("w4a16/m1/n4096/k14336", one_call, ctx, &o, &r, &err);
 *   ... r.median_s, r.cv ... ; cbench_result_free(&r);
 */
#ifndef QBENCH_BENCH_CBENCH_H
#define QBENCH_BENCH_CBENCH_H

#include <stdint.h>

#include "common/qc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef double (*cbench_fn)(void *ctx);

typedef struct cbench_options {
    double min_time;  /* seconds per repetition (Google Benchmark's MinTime) */
    int repetitions;  /* ≥ 1; with ≥ 2 Google Benchmark reports mean, median, stddev, cv */
    int manual_time;  /* 1: the callback returns the seconds to count (UseManualTime) */
    /* Noise: while a round's cv is above max_cv (> 0), another round of `repetitions` runs, as
     * long as it fits in budget_s seconds of wall time in all (0: CBENCH_DEFAULT_ROUNDS times
     * the first round's; at most CBENCH_MAX_ROUNDS rounds); the round with the lowest cv is the
     * result. max_cv 0: one round. */
    double max_cv;
    double budget_s;
} cbench_options;

enum { CBENCH_MAX_ROUNDS = 32, CBENCH_DEFAULT_ROUNDS = 5 };

typedef struct cbench_result {
    int64_t iterations;  /* per repetition */
    int repetitions;     /* of the round that stands */
    int rounds, repetitions_all; /* rounds run, and their repetitions in all */
    int noisy;           /* its cv is still above max_cv */
    double median_s, mean_s, min_s, stddev_s, cv; /* seconds per call */
    char *json;          /* Google Benchmark's JSON document for this run ("context" + "benchmarks") */
} cbench_result;

/* Runs the benchmark `name`. QC_ERUNTIME when Google Benchmark reports an error. */
int cbench_run(const char *name, cbench_fn fn, void *ctx, const cbench_options *opt, cbench_result *out,
               qc_msgs *err);
void cbench_result_free(cbench_result *r);

#ifdef __cplusplus
}
#endif

#endif
