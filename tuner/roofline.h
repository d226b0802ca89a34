/* tuner/: the roofline model (which ceiling bounds a point, and what it can attain), its fit,
 * autotuning (the winner per bucket and per cell), and the dispatch-table emitters.
 *
 * The model of a device and a kernel: a call that moves B bytes and does F operations on M rows
 * of an N × K weight matrix has a memory side and a compute side,
 *   tm = B / (e_mem·BW),   tc = F / (e_comp·P) + ⌈M/mr⌉·N·K / D,
 * and takes
 *   t = t0 + max(tm, tc) + x·min(tm, tc):
 * the roofline's max when the longer side hides the shorter wholly (x = 0), their sum when it
 * hides none of it (x = 1).
 * Bytes and operations come from the one cost function (kernels/qk.h, qk_problem_cost); BW and P
 * are the profile's probed ceilings (profiles/profile.h), fixed inputs: the bandwidth the weights
 * stream from and the peak of the number format the kernel's inner loop computes in (the
 * registry row says which). What is learned (qt_fit_kernels) is physical: per kernel, the share
 * of each ceiling it reaches (e_mem, e_comp in (0, 1]), the rate D at which it decodes weights,
 * once per pass of its register tile of mr rows over them (⌈M/mr⌉ passes: what M against the
 * tile costs; none for a kernel whose weights need no decoding), the share x of the shorter side
 * that it leaves exposed (x in [0, 1]), and one fixed cost t0 per device (no larger than the
 * fastest call measured). The tuner reads observations (measured or
 * predicted points); it never runs kernels. Prefix qt_. */
#ifndef QBENCH_TUNER_ROOFLINE_H
#define QBENCH_TUNER_ROOFLINE_H

#include <stdio.h>

#include "common/qc.h"
#include "kernels/qk.h"
#include "profiles/profile.h"

typedef struct qt_model {
    double bw_gbs;     /* the memory side, GB/s: a ceiling, or a ceiling × an efficiency */
    double peak_gops;  /* the compute side, G operations/s of the number format */
    double t0_s;       /* fixed cost per call, seconds */
    int mr;            /* register-tile rows (≤ 1: one pass) */
    double decode_gws; /* weights decoded per second per pass, G/s (0: decoding costs nothing) */
    double exposed;    /* the share of the shorter side the longer does not hide, [0, 1] */
} qt_model;

/* The passes of a register tile of mr rows over the weights for M rows: ⌈M/mr⌉ (1 when mr ≤ 1). */
int qt_passes(int m, int mr);
/* The seconds of a memory side tm and a compute side tc that overlap but for a share `exposed`
 * of the shorter: max(tm, tc) + exposed·min(tm, tc). */
double qt_combine(double tm, double tc, double exposed);
/* Predicted seconds for M rows (N·K = flops / 2M); 0 when the model has no bandwidth or no peak. */
double qt_predict(const qt_model *m, double bytes, double flops, int M);
/* "memory" or "compute": which term of the max bounds it. */
const char *qt_bound(const qt_model *m, double bytes, double flops, int M);

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
/* The model to predict with: k's efficiencies from eff's fit (eff NULL: prof's own), when it
 * has them for k at cfg's number format, times prof's ceilings (*basis "fit" when eff is prof or
 * NULL, else "fit of <eff> on <prof>'s ceilings", in basis_buf); else the ceilings alone, no
 * fixed cost (*basis "measured", "spec", ...). 1 when usable. */
int qt_model_of(const qp_profile *prof, const qp_profile *eff, const qk_kernel *k, const qk_config *cfg, qt_model *m,
                char *basis, size_t basis_len);

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
    /* what the fit reads: the ceilings the point was placed under (0 when none), the number
     * format of its inner loop, its register-tile rows, and whether it is held out of the fit */
    double bw_gbs, peak_gops;
    char format[16];
    int mr;
    int holdout;
    int unusual;         /* timed outside the machine's usual phase (its point says so): the fit
                          * leaves it out and states its error apart */
} qt_obs;

/* ---- the fit: efficiencies per kernel ---- */
/* Errors are relative, |predicted − measured| / measured. */
typedef struct qt_errors {
    int n;
    double median, max, rms;
    int worst;                /* 1 + the index among the observations fitted of the largest error; 0: none known */
    double worst_predicted_s; /* what the model predicted there */
} qt_errors;

/* One kernel at one thread count and one number format (a configuration that moves it to
 * another inner loop is another entry). */
typedef struct qt_kfit {
    char kernel[32], format[16];
    int scheme, threads;
    double mem_eff, comp_eff;   /* of the DRAM read ceiling and of the format's peak, in (0, 1] */
    double decode_gws;          /* weights decoded per second per pass, G/s (0: free) */
    double exposed;             /* the share of the shorter side not hidden, [0, 1] */
    double bw_gbs, peak_gops;   /* the ceilings its points met (their median) */
    int shapes;                 /* distinct N × K among its points */
    qt_errors fit;              /* in sample */
    qt_errors cv;               /* leave one shape out (n = 0 with fewer than two shapes) */
    qt_errors held;             /* on the held-out points */
    qt_errors unusual;          /* on the points timed outside the usual phase (in no other count) */
} qt_kfit;

typedef struct qt_fitted {
    double t0_s;                /* the device's fixed cost per call */
    qt_kfit *v;
    int n;
    qt_errors fit[QK_SCHEME_COUNT], cv[QK_SCHEME_COUNT], held[QK_SCHEME_COUNT]; /* per scheme */
    qt_errors unusual[QK_SCHEME_COUNT];
} qt_fitted;

/* Fits every kernel's efficiencies and the device's t0 to the observations that have ceilings
 * and are neither held out nor timed outside the machine's usual phase: for each (kernel,
 * threads, format, N, K, options, M) its fastest configuration, Huber loss on ln t − ln model;
 * then the leave-one-shape-out errors, the errors on the held-out points, and apart, those on
 * the points timed outside the usual phase (a machine's slow or fast spell is not the model's
 * to predict; the report says how far they lie). QC_EINPUT when no kernel has 2 points to fit. */
int qt_fit_kernels(const qt_obs *obs, int n, qt_fitted *out, qc_msgs *err);
void qt_fitted_free(qt_fitted *f);
const qt_kfit *qt_fitted_find(const qt_fitted *f, const char *kernel, const char *format, int threads);
/* The model of observation-like point: its ceilings × its kernel's efficiencies (0 when the
 * fit has no entry for it). */
int qt_fitted_model(const qt_fitted *f, const qt_obs *o, qt_model *m);

/* A scheme's model as the dispatch table and the crossovers use it: its kernel's default
 * configuration at each M, which may take one inner loop up to M = split and another above. */
typedef struct qt_scheme_model {
    int present;
    char kernel[32];
    qt_model small, large;
    int split;                  /* M ≤ split: small; INT32_MAX when one loop serves every M */
    qt_errors cv;               /* the stated error: leave one shape out (else in sample) */
    int cv_is_fit;              /* cv holds the in-sample error (no second shape to leave out) */
} qt_scheme_model;
double qt_scheme_predict(const qt_scheme_model *s, double bytes, double flops, int M);
/* Per scheme, its default kernel (the CPU's, else the GPU's: the one the fit has) with its
 * fitted efficiencies and the ceilings its points met. */
void qt_scheme_models(const qt_fitted *f, qt_scheme_model out[QK_SCHEME_COUNT]);
/* The same from a profile: the default kernel the profile's device runs for the scheme, its
 * ceilings there, and the efficiencies of eff's fit (NULL: prof's own; none: the ceilings
 * alone, no fixed cost); basis as qt_model_of says. 1 when usable. */
int qt_scheme_model_of(const qp_profile *prof, const qp_profile *eff, qk_scheme s, qt_scheme_model *out, char *basis,
                       size_t basis_len);

/* The smallest M ≥ 1 (up to max_m) where problem b's predicted time becomes lower than a's,
 * given a is faster at M = 1 (or the reverse: *direction = +1 when a→b, −1 when b→a); 0
 * when the order never changes up to max_m. a and b give the schemes, shapes and flags (their
 * M is ignored). */
int qt_crossover(const qt_scheme_model *ma, const qk_problem *a, const qt_scheme_model *mb, const qk_problem *b,
                 int max_m, int *direction);

/* Does a model place two schemes' crossovers within one measured M of the measured ones? The
 * order of the two at each M measured (ascending): +1 the first faster beyond the tie margin, −1
 * the second, 0 a tie (where two schemes cross). Yes when, wherever the model names one faster
 * and the measurement the other, the measurement names the model's one, or a tie, at the M
 * before or after. */
int qt_orders_agree(const int *measured, const int *predicted, int n);

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
    int verified;          /* +1: it beat its kernel's default when re-measured side by side; −1: it
                            * did not, and the default stands; 0: not re-measured */
    double verify_ratio;   /* the re-measured winner ÷ default time (median of the pairs) */
} qt_winner;

/* A bucket's winner re-measured against its kernel's default configuration, interleaved in one
 * process (A, B, A, B …); the sweep records these in the results file. */
typedef struct qt_verdict {
    qk_problem p;                  /* the bucket's key, and the M measured */
    char kernel[32], config[128];  /* the winner that was re-measured */
    int pairs;
    double ratio;                  /* median over the pairs of winner ÷ default time */
    double ratio_hi;               /* the upper quartile of those ratios */
    int keep;                      /* it beat the default beyond the noise (ratio_hi < 1) */
} qt_verdict;

/* A close race: a cell's two fastest schemes, or a scheme's two fastest kernels, re-measured
 * interleaved in one process (A, B, A, B …): each side as measured (its problem with M, kernel,
 * configuration), and the median and quartiles over the pairs of a's time ÷ b's. The same two
 * sides may race in several rounds (one entry each). qt_tune takes the faster of two kernels as
 * its scheme's winner; qt_cells decides a cell from the rounds of a race of its two schemes. */
typedef struct qt_side {
    qk_problem p;
    char kernel[32], config[128];
} qt_side;
typedef struct qt_race {
    qt_side a, b;
    int pairs;
    double ratio, ratio_lo, ratio_hi;
} qt_race;

typedef struct qt_tune_opts {
    const int *bucket_edges; /* ascending upper bounds of M buckets; NULL: powers of two */
    int n_edges;
    double max_error;      /* exclude schemes whose quantization error exceeds it; ≤ 0: no limit */
    double noise_sigmas;   /* a winner must beat the runner-up by more than this many σ (default 2) */
    double prune_margin;   /* roofline pruning keeps configurations predicted within this factor of the best (1.25) */
    const qt_fitted *fit;  /* the model roofline pruning predicts with (NULL: no pruning report) */
    const qt_verdict *verdicts; /* re-measured winners: one that lost to the default is replaced by it */
    int n_verdicts;
    const qt_race *races;  /* re-measured close races (kept in qt_tuned for qt_cells) */
    int n_races;
} qt_tune_opts;

typedef struct qt_tuned {
    qt_winner *v;
    int n;
    int excluded[QK_SCHEME_COUNT]; /* schemes excluded by max_error */
    /* roofline pruning, on the same observations */
    int points, points_kept, same_winners, cells;
    const qt_race *races;  /* qt_tune_opts' (not owned) */
    int n_races;
} qt_tuned;

/* The bucket upper bound holding M: the smallest edge ≥ M (or the power of two ≥ M). */
int qt_bucket(const qt_tune_opts *o, int m, int *lo);
int qt_tune(const qt_obs *obs, int n, const qt_tune_opts *o, qt_tuned *out, qc_msgs *err);
void qt_tuned_free(qt_tuned *t);

/* ---- the winning scheme per cell ----
 * A cell is what a caller of a dispatch table asks: a shape, an M bucket, an output type and
 * the quantization options of the schemes that have them (the int4 group and zero points, the
 * fp8 scale). Every tuned winner whose options match competes; the fastest wins, unless the
 * runner-up (another scheme) is within the noise of the two (2σ of their medians) or within the
 * margin: then the cell is a tie of the two, and the more accurate scheme (the lower
 * quantization error) is named first. Where the two were raced (re-measured interleaved,
 * qt_race), the race decides instead: one round by qt_race_verdict, several by
 * qt_rounds_verdict. One cell per (shape, bucket, output type) and per combination of options
 * present in the table. */
enum { QT_TIE_MARGIN_PCT = 3 }; /* the default margin of a tie between schemes, percent */
typedef struct qt_cell {
    qk_problem key;        /* n, k, out_f32; group and asym of the int4 schemes (0 when none);
                            * fp8_channel of fp8 */
    int m_lo, m_hi;
    int scheme;            /* the winner (in a tie: the more accurate of the two) */
    const qt_winner *w;
    int candidates;        /* schemes that competed */
    int tie;               /* scheme2 is within the noise or the margin */
    int scheme2;           /* the other of a tie (else the runner-up, −1 when none) */
    const qt_winner *w2;
    const qt_race *race;   /* the race's first round, when a race decided it (NULL: the sweep's
                            * medians did) */
    int rounds, pairs;     /* with a race: its rounds and all their pairs */
    double ratio, ratio_lo, ratio_hi; /* with a race: w's time ÷ w2's, the median of the rounds'
                                       * medians, the lowest and the highest quartile of any round */
} qt_cell;

/* A race's verdict at a tie margin (≤ 0: QT_TIE_MARGIN_PCT): 0 a tie (the median ratio a ÷ b
 * within the margin, or 1 inside its notch, the ~95% interval of a median: ± 1.58·IQR/√pairs,
 * McGill, Tukey and Larsen 1978), −1 when a is the faster, +1 when b is. */
int qt_race_verdict(double ratio, double lo, double hi, int pairs, double margin);
/* The verdict of a race in n rounds (each round's median a ÷ b, the rounds minutes apart):
 * −1 or +1 when the median of the rounds' medians lies beyond the margin on that side and no
 * round lies beyond it on the other, else 0, a tie (the median within the margin, or a round
 * the other way round: a phase of the machine changed which is faster). The rounds are the
 * noise guard here, where one round's notch at 12 pairs is wide at small M; a single round
 * within the margin (0.97 where the others read 0.92) does not make a tie. */
int qt_rounds_verdict(const double *ratio, int n, double margin);
/* Does winner w compete in cell key c? */
int qt_cell_matches(const qk_problem *c, const qk_problem *w);
/* The cells of a tuned table; margin: the relative difference within which two schemes tie
 * (≤ 0: QT_TIE_MARGIN_PCT). */
int qt_cells(const qt_tuned *t, double margin, qt_cell **out, int *n);

/* ---- a model's totals ----
 * A model is its decoder block's linear layers (each N × K, `count` of them per token: 1, or for
 * routed experts the experts per token) times its blocks. At M tokens a dense layer runs once at
 * M rows; a routed expert layer runs on a = min(experts, M·count) experts of ⌈M·count / a⌉ rows
 * each, timed at the smallest M measured that holds them (an upper bound). */
typedef struct qt_layer {
    char name[64];
    int n, k, count, experts;
} qt_layer;

typedef struct qt_total {
    int scheme, m;
    double pass_s;     /* one pass of M tokens through every linear layer of every block (0: missing) */
    double tokens_s;   /* M ÷ pass_s: the decode bound at batch M (linear layers only) */
    double weight_gb;  /* every linear layer's weights with their scales and zeros, all experts */
    int missing;       /* layers with no tuned winner at the M they need (pass_s is then 0) */
} qt_total;

/* For every M the tuned table has (16-bit output; of several option sets the fastest), one entry
 * per scheme tuned there or at another M (missing counts its layers with no winner): M ascending,
 * then scheme order. */
int qt_model_totals(const qt_tuned *t, const qt_layer *l, int n_layer, int blocks, qt_total **out, int *n);

/* ---- emitters ---- */
typedef struct qt_emit_info {
    const char *device;        /* profile name: "host", "h100-sxm5-80gb" */
    const char *source_hash;   /* of the results file: provenance */
    const qt_scheme_model *models; /* QK_SCHEME_COUNT entries: model answers, with their stated error */
    const qt_tuned *tuned;
    double tie_margin;         /* the relative difference within which best_scheme calls a tie */
} qt_emit_info;

/* "header": qbench_dispatch_<device>.h, self-contained C99/C++ (stddef.h, stdint.h only);
 * "json": the same content; "vllm": per-device JSON keyed by M. Deterministic bytes.
 * QC_EINPUT for an unknown format; QC_ERUNTIME when writing to f failed (the caller's file
 * says why when it is closed). */
int qt_emit(const qt_emit_info *info, const char *format, FILE *f, qc_msgs *err);
/* A fleet: one header (or JSON) for several devices, each device's own table as emitted alone,
 * and a lookup by device name that falls back the way CLBlast's database does and says which
 * basis answered: the exact name (the results' device or the profile's name), an alias, the
 * profile's match pattern, the compute capability; then a model: a known profile that was not
 * swept (its ceilings × the efficiencies fitted on the nearest swept device, the configurations
 * of that device's table), or, for an unknown name with a compute capability, the nearest swept
 * device's fitted model; else none (0: never a silent default). */
typedef struct qt_fleet_device {
    qt_emit_info info;        /* its section; info.tuned->n == 0 for a device answered by model only */
    const char *device_name;  /* the device its results were measured on ("" when unknown) */
    const char *const *aliases;
    int n_aliases;
    const char *match;        /* the profile's pattern (* and ?, case-insensitive); "" when none */
    int cuda, cc_major, cc_minor; /* cc -1 when unknown */
    int nearest;              /* by model only: the swept device whose table and efficiencies answer; else -1 */
    const char *basis;        /* by model only: what its model is made of */
} qt_fleet_device;
/* "header" or "json" over d[0..n) (the swept devices first); QC_EINPUT for another format or two
 * devices of one name. */
int qt_emit_fleet(const qt_fleet_device *d, int n, const char *format, FILE *f, qc_msgs *err);

/* FNV-1a 64 of bytes, as 16 hex digits. */
void qt_hash_bytes(const void *data, size_t len, char out[17]);

#endif
