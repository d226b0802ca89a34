/* bench/results: the results file (results.json), a superset of Google Benchmark's JSON
 * ("context" + "benchmarks") so that its compare.py works on two sweeps. Each point of a sweep
 * is one or more Google Benchmark entries (the repetitions and the aggregates) that all carry
 * the point's fields:
 *
 *   point (the point's name: what ties its entries together; Google Benchmark's own "name"
 *   carries its suffixes), scheme, kernel, config, m, n, k, group, asym, out ("f16"|"f32"), status ("ok"|"failed"|
 *   "predicted"), predicted (bool), error (when failed), bytes, flops, intensity,
 *   time_median_s, time_min_s, time_cv, repetitions_run, gbs, gflops, ceiling {bound
 *   ("memory"|"compute"), gbs, gops, attainable_gflops}, pct_of_ceiling, kernel_error,
 *   quant_error, cache_mode ("cold"|"warm"), weight_copies, counters {NAME: {value, source}
 *   or {unavailable: reason, source}}
 *
 * A failed or predicted point has one entry of run_type "aggregate", aggregate_name "median"
 * (failed: error_occurred true). The file's context adds "qbench": {version, device, profile,
 * created}. Files are written atomically; reading validates every field. */
#ifndef QBENCH_BENCH_RESULTS_H
#define QBENCH_BENCH_RESULTS_H

#include <jansson.h>

#include "common/qc.h"
#include "kernels/qk.h"

enum { QB_OK, QB_FAILED, QB_PREDICTED };

typedef struct qb_counter {
    char name[48];
    int available;
    double value;
    char source[8];   /* "papi", "cupti" or "model" */
    char reason[256]; /* when unavailable */
} qb_counter;

typedef struct qb_point {
    char name[200];   /* unique: what a resume matches on */
    qk_problem p;
    char kernel[32], config[128];
    int status;
    char error[256];
    double bytes, flops, intensity;
    double median_s, min_s, cv;
    int repetitions;
    double gbs, gflops;
    char bound[8];
    double ceiling_gbs, ceiling_gops, attainable_gflops, pct_of_ceiling; /* 0 when no ceilings */
    double kernel_error, quant_error;  /* < 0 when not measured */
    char cache_mode[16];
    int copies;
    qb_counter counters[8];
    int n_counters;
    json_t *entries; /* Google Benchmark's entries for this point (owned) */
} qb_point;

typedef struct qb_results {
    json_t *context; /* owned */
    qb_point *v;
    int n, cap;
} qb_results;

void qb_results_init(qb_results *r, json_t *context /* taken */);
/* Appends p (taking ownership of p->entries; NULL for failed and predicted points, which get
 * their entry made from the fields). */
void qb_results_add(qb_results *r, qb_point *p);
const qb_point *qb_results_find(const qb_results *r, const char *name);
int qb_results_write(const qb_results *r, const char *path, qc_msgs *err);
/* QC_EINPUT with "<path>: <what is wrong>" for a missing, truncated, corrupt or foreign file. */
int qb_results_read(const char *path, qb_results *r, qc_msgs *err);
void qb_results_free(qb_results *r);

/* "w4a16/g128/sym/f16/m1/n4096/k14336/w4a16.avx512bf16/threads=2,mr=1,..." */
void qb_point_name(qb_point *p);

#endif
