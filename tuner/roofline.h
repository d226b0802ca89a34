/* tuner/: the roofline model (which ceiling bounds a point, and what it can attain), its fit,
 * autotuning (the winner per bucket and per cell), and the dispatch-table emitters.
 *
 * The model of a device and a kernel: a call that moves B bytes and does F operations takes
 * t = t0 + max(B / BW, F / P). Bytes and operations come from the one cost function
 * (kernels/qk.h, qk_problem_cost); BW and P come from the profile (profiles/profile.h): the
 * bandwidth the weights stream from and the peak of the number format the kernel's inner loop
 * computes in (the registry row says which). The tuner reads observations (measured or
 * predicted points); it never runs kernels. Prefix qt_. */
#ifndef QBENCH_TUNER_ROOFLINE_H
#define QBENCH_TUNER_ROOFLINE_H

#include <stdio.h>

#include "common/qc.h"
#include "kernels/qk.h"
#include "profiles/profile.h"

typedef struct qt_model {
    double bw_gbs;    /* memory bandwidth, GB/s */
    double peak_gops; /* operations per second of the number format, G/s */
    double t0_s;      /* fixed cost per call, seconds */
} qt_model;

/* Predicted seconds; 0 when the model has no bandwidth or no peak. */
double qt_predict(const qt_model *m, double bytes, double flops);
/* "memory" or "compute": which term of the max bounds it. */
const char *qt_bound(const qt_model *m, double bytes, double flops);

/* ---- what bounds a point: the one answer (sweep placement, predict, fit, tune, plots) ---- */
typedef struct qt_roof {
    qt_model model;      /* the ceilings, t0 = 0 */
    char format[16];     /* the number format the kernel computes in ("fp32_fma", ...) */
    const char *source;  /* "measured", "spec", or "measured+spec" */
    int threads;         /* the thread count the ceilings were taken at (0: the profile's most) */
} qt_roof;

/* The ceilings kernel k in configuration cfg meets on the profile's device: DRAM read
 * bandwidth and the peak of qk_kernel_format(k, cfg), at the configuration's "threads".
 * Returns 1 when both are known, else 0 (a figure the profile lacks is 0). */
int qt_roof_of(const qp_profile *prof, const qk_kernel *k, const qk_config *cfg, qt_roof *out);
/* Where a call of `bytes` and `flops` sits under a roof: the bound ("memory" or "compute") and
 * the GFLOP/s attainable there. */
const char *qt_place(const qt_roof *r, double bytes, double flops, double *attainable_gflops);
/* The kernel the profile's device runs for a scheme by default (CPU: the best this CPU runs;
 * CUDA: the registry's CUDA row). */
const qk_kernel *qt_kernel_for(const qp_profile *prof, qk_scheme s);
/* The model to predict with: the profile's fit for k's scheme when it has one (*basis "fit"),
 * else the roof of k with no fixed cost (*basis "measured", "spec", ...). 1 when usable. */
int qt_model_of(const qp_profile *prof, const qk_kernel *k, const qk_config *cfg, qt_model *m, const char **basis);

/* Fits BW, P and t0 to n points by robust least squares in log space (Huber loss on
 * ln t − ln model, so that small and large runs weigh alike and outliers do not pull);
 * *residual is the RMS of ln t − ln model (≈ relative error). QC_EINPUT when fewer than 3
 * points, or none with positive time. */
int qt_fit(const double *bytes, const double *flops, const double *time_s, int n, qt_model *out, double *residual,
           qc_msgs *err);

/* ---- observations: what the tuner reads ---- */
typedef struct qt_obs {
    qk_problem p;        /* scheme, M, N, K, group and the flags: the tuner's key */
    const qk_kernel *k;  /* the registry's row */
    qk_config cfg;
    char kernel[32];
    char config[128];
    int threads;
    double bytes, flops;
    double time_s, cv;   /* median and its coefficient of variation */
    int noisy;           /* the cv stayed above the sweep's target: a winner that is noisy is a tie */
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

/* The smallest M ≥ 1 (up to max_m) where problem b's predicted time becomes lower than a's,
 * given a is faster at M = 1 (or the reverse: *direction = +1 when a→b, −1 when b→a); 0
 * when the order never changes up to max_m. a and b give the schemes, shapes and flags (their
 * M is ignored). */
int qt_crossover(const qt_model *ma, const qk_problem *a, const qt_model *mb, const qk_problem *b, int max_m,
                 int *direction);

/* ---- tuning ---- */
/* Do two problems share a tuning key: scheme, N, K, group (grouped schemes) and flags? */
int qt_same_key(const qk_problem *a, const qk_problem *b);

typedef struct qt_winner {
    qk_problem p;          /* the key (p.m: the M the winner was measured at) */
    int m_lo, m_hi;        /* the M bucket: lo < M ≤ hi (lo = 0 for the first) */
    char kernel[32], config[128];
    double time_s, cv;
    int tie;               /* the runner-up was within the noise (the default configuration stands
                            * where it is within it), or the fastest was noisy (the default stands) */
    int noisy;             /* the winner's own timing was noisy */
    int candidates;        /* configurations measured for this cell */
    double quant_error;
} qt_winner;

typedef struct qt_tune_opts {
    const int *bucket_edges; /* ascending upper bounds of M buckets; NULL: powers of two */
    int n_edges;
    double max_error;      /* exclude schemes whose quantization error exceeds it; ≤ 0: no limit */
    double noise_sigmas;   /* a winner must beat the runner-up by more than this many σ (default 2) */
    double prune_margin;   /* roofline pruning keeps configurations predicted within this factor of the best (1.25) */
} qt_tune_opts;

typedef struct qt_tuned {
    qt_winner *v;
    int n;
    int excluded[QK_SCHEME_COUNT]; /* schemes excluded by max_error */
    /* roofline pruning, on the same observations */
    int points, points_kept, same_winners, cells;
} qt_tuned;

/* The bucket upper bound holding M: the smallest edge ≥ M (or the power of two ≥ M). */
int qt_bucket(const qt_tune_opts *o, int m, int *lo);
int qt_tune(const qt_obs *obs, int n, const qt_tune_opts *o, qt_tuned *out, qc_msgs *err);
void qt_tuned_free(qt_tuned *t);

/* ---- the winning scheme per cell ----
 * A cell is what a caller of a dispatch table asks: a shape, an M bucket, an output type and
 * the quantization options of the schemes that have them (the int4 group and zero points, the
 * fp8 scale). Every tuned winner whose options match competes; the fastest wins. One cell per
 * (shape, bucket, output type) and per combination of options present in the table. */
typedef struct qt_cell {
    qk_problem key;        /* n, k, out_f32; group and asym of the int4 schemes (0 when none);
                            * fp8_channel of fp8 */
    int m_lo, m_hi;
    int scheme;            /* the winner */
    const qt_winner *w;
    int candidates;        /* schemes that competed */
} qt_cell;

/* Does winner w compete in cell key c? */
int qt_cell_matches(const qk_problem *c, const qk_problem *w);
int qt_cells(const qt_tuned *t, qt_cell **out, int *n);

/* ---- emitters ---- */
typedef struct qt_emit_info {
    const char *device;        /* profile name: "host", "h100-sxm5-80gb" */
    const char *source_hash;   /* of the results file: provenance */
    const qt_scheme_fit *fits; /* QK_SCHEME_COUNT entries */
    const qt_tuned *tuned;
} qt_emit_info;

/* "header": qbench_dispatch_<device>.h, self-contained C99/C++ (stddef.h, stdint.h only);
 * "json": the same content; "vllm": per-device JSON keyed by M. Deterministic bytes.
 * QC_EINPUT for an unknown format; QC_ERUNTIME when writing to f failed (the caller's file
 * says why when it is closed). */
int qt_emit(const qt_emit_info *info, const char *format, FILE *f, qc_msgs *err);
/* FNV-1a 64 of bytes, as 16 hex digits. */
void qt_hash_bytes(const void *data, size_t len, char out[17]);

#endif
