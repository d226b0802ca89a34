/* tuner/: the roofline model, its fit, autotuning and the dispatch-table emitters.
 *
 * The model of a device and number format: a call that moves B bytes and does F operations
 * takes t = t0 + max(B / BW, F / P). Bytes and operations come from the one cost function
 * (kernels/qk.h, qk_problem_cost). The tuner reads observations (measured or predicted points,
 * from a results file); it never runs kernels. Prefix qt_. */
#ifndef QBENCH_TUNER_ROOFLINE_H
#define QBENCH_TUNER_ROOFLINE_H

#include <stdio.h>

#include "common/qc.h"

typedef struct qt_model {
    double bw_gbs;    /* memory bandwidth, GB/s */
    double peak_gops; /* operations per second of the number format, G/s */
    double t0_s;      /* fixed cost per call, seconds */
} qt_model;

/* Predicted seconds; 0 when the model has no bandwidth or no peak. */
double qt_predict(const qt_model *m, double bytes, double flops);
/* "memory" or "compute": which term of the max bounds it. */
const char *qt_bound(const qt_model *m, double bytes, double flops);

/* Fits BW, P and t0 to n points by robust least squares in log space (Huber loss on
 * ln t − ln model, so that small and large runs weigh alike and outliers do not pull);
 * *residual is the RMS of ln t − ln model (≈ relative error). QC_EINPUT when fewer than 3
 * points, or none with positive time. */
int qt_fit(const double *bytes, const double *flops, const double *time_s, int n, qt_model *out, double *residual,
           qc_msgs *err);

/* ---- observations: what the tuner reads ---- */
typedef struct qt_obs {
    int scheme;          /* qk_scheme */
    char kernel[32];     /* "roofline" for predicted points */
    char config[128];
    int threads;
    int m, n, k, group;
    double bytes, flops;
    double time_s, cv;   /* median and its coefficient of variation */
    double quant_error;  /* < 0 when unknown */
    int is_default;      /* the kernel's default configuration */
} qt_obs;

/* ---- fits per scheme (the number format) ---- */
typedef struct qt_scheme_fit {
    int scheme, present, n;
    qt_model model;
    double residual;
} qt_scheme_fit;

/* One fit per scheme that has at least 3 observations. */
void qt_fit_schemes(const qt_obs *obs, int n, qt_scheme_fit fits[], qc_msgs *err);

/* The smallest M ≥ 1 (up to max_m) where scheme b's predicted time becomes lower than a's,
 * given a is faster at M = 1 (or the reverse: *direction = +1 when a→b, −1 when b→a);
 * 0 when the order never changes up to max_m. */
int qt_crossover(const qt_model *a, const qt_model *b, int sa, int sb, int n, int k, int group, int max_m,
                 int *direction);

/* ---- tuning ---- */
typedef struct qt_winner {
    int scheme, n, k, group;
    int m_lo, m_hi;        /* the M bucket: lo < M ≤ hi (lo = 0 for the first) */
    int m_measured;        /* the M the winner was measured at */
    char kernel[32], config[128];
    double time_s, cv;
    int tie;               /* the runner-up was within the noise: the simpler configuration stands */
    int candidates;        /* configurations measured for this cell */
    double quant_error;
} qt_winner;

typedef struct qt_tune_opts {
    int *bucket_edges;     /* ascending upper bounds of M buckets; NULL: powers of two */
    int n_edges;
    double max_error;      /* exclude schemes whose quantization error exceeds it; ≤ 0: no limit */
    double noise_sigmas;   /* a winner must beat the runner-up by more than this many σ (default 2) */
    double prune_margin;   /* roofline pruning keeps configurations predicted within this factor of the best (1.25) */
} qt_tune_opts;

typedef struct qt_tuned {
    qt_winner *v;
    int n;
    int excluded[16];      /* schemes excluded by max_error */
    /* roofline pruning, on the same observations */
    int points, points_kept, same_winners, cells;
} qt_tuned;

/* The bucket upper bound holding M: the smallest edge ≥ M (or the power of two ≥ M). */
int qt_bucket(const qt_tune_opts *o, int m, int *lo);
int qt_tune(const qt_obs *obs, int n, const qt_tune_opts *o, qt_tuned *out, qc_msgs *err);
void qt_tuned_free(qt_tuned *t);

/* ---- emitters ---- */
typedef struct qt_emit_info {
    const char *device;        /* profile name: "host", "h100-sxm5-80gb" */
    const char *source_hash;   /* of the results file: provenance */
    const qt_scheme_fit *fits; /* QK_SCHEME_COUNT entries */
    const qt_tuned *tuned;
} qt_emit_info;

/* "header": qbench_dispatch_<device>.h, self-contained C99/C++ (stddef.h, stdint.h only);
 * "json": the same content; "vllm": per-device JSON keyed by M. Deterministic bytes. */
int qt_emit(const qt_emit_info *info, const char *format, FILE *f, qc_msgs *err);
/* FNV-1a 64 of a file's bytes, as 16 hex digits. */
int qt_hash_file(const char *path, char out[17], qc_msgs *err);

#endif
