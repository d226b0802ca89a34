/* bench/results: the results file (results.json), a superset of Google Benchmark's JSON
 * ("context" + "benchmarks") so that its compare.py works on two sweeps. Each point of a sweep
 * is one or more Google Benchmark entries (the repetitions and the aggregates) that all carry
 * the point's fields:
 *
 *   point (the point's name: what ties its entries together; Google Benchmark's own "name"
 *   carries its suffixes), scheme, kernel, config, m, n, k, group, asym, out ("f16"|"f32"),
 *   fp8_scale ("tensor"|"channel", fp8 only), smooth_alpha (when SmoothQuant was applied),
 *   status ("ok"|"failed"|"predicted"), predicted (bool), error (when failed), bytes, flops,
 *   intensity, time_median_s, time_min_s, time_cv, repetitions_run, timing_rounds, noisy,
 *   iterations, gbs, gflops, phase (CPU: {waited_s, redone, usual, read: {cores_gops,
 *   usual_cores_gops, dram_gbs, usual_dram_gbs}}),
 *   ceiling {bound ("memory"|"compute"), gbs, gops, format, attainable_gflops},
 *   pct_of_ceiling, kernel_error, quant_error, weight_error, and the same as SQNR in dB (sqnr_db of the
 *   output, weight_sqnr_db: −20·log10 of the relative error; written, never read back), layer (a
 *   --model sweep's), checked {rows, cols}, cache ("cold"|"warm": what
 *   was asked), cache_mode
 *   ("cold"|"warm"|"l2-flush"), weight_copies, counters {NAME: {value, source} or
 *   {unavailable: reason, source}}
 *
 * A failed or predicted point has one entry of run_type "aggregate", aggregate_name "median"
 * (failed: error_occurred true). The file's context adds "qbench": {version, device, profile,
 * created}; a top-level "verification" list holds the winners re-measured against their kernel's
 * default and the close races between schemes re-measured ({winner, baseline, kind: "config" or
 * "race", pairs, ratio, ratio_lo, ratio_hi, keep}; kind absent: config). Files are written atomically;
 * reading validates every field. */
#ifndef QBENCH_BENCH_RESULTS_H
#define QBENCH_BENCH_RESULTS_H

#include <jansson.h>

#include "common/qc.h"
#include "hardware/ceilings.h"
#include "kernels/qk.h"

enum { QB_OK, QB_FAILED, QB_PREDICTED };

typedef struct qb_counter {
    char name[48];
    int available;
    double value;
    char source[8];   /* "papi", "cupti" or "model" */
    char reason[256]; /* when unavailable */
} qb_counter;

enum { QB_NAME_MAX = 256, QB_KERNEL_MAX = 32, QB_CONFIG_MAX = 128 };

typedef struct qb_point {
    char name[QB_NAME_MAX];   /* unique: what a resume matches on */
    qk_problem p;
    double smooth;            /* SmoothQuant alpha; < 0: none */
    char kernel[QB_KERNEL_MAX], config[QB_CONFIG_MAX];
    int status;
    char error[256];
    double bytes, flops, intensity;
    double median_s, min_s, cv;
    int repetitions;          /* of the timing round that stands */
    int rounds;               /* timing rounds run (more than one when a round's cv was above the target) */
    int noisy;                /* its cv is still above the target (--max-cv) */
    double phase_waited_s;    /* CPU: seconds waited for the machine's usual phase before timing */
    int phase_redone;         /* CPU: timings done again because the phase changed during them */
    int phase_unusual;        /* CPU: the machine was not in its usual phase around the timing that stands */
    qh_phase_read phase_read; /* CPU: the sentinel's read after that timing, beside the usual rates it
                               * was compared with; 0: not read */
    long long iterations;     /* calls per repetition */
    double gbs, gflops;
    char bound[8], format[16];
    double ceiling_gbs, ceiling_gops, attainable_gflops, pct_of_ceiling; /* 0 when no ceilings */
    double kernel_error, quant_error;  /* < 0 when not measured */
    double weight_error;      /* ‖W − dequantized W‖ / ‖W‖ over the whole matrix; < 0 when not measured */
    char layer[64];           /* the model's layer it stands for ("mlp.down_proj"; "" for a typed shape) */
    int checked_rows, checked_cols;
    int warm;                 /* warm weights were asked for (--cache warm): the name says /warm */
    int holdout;              /* measured for the model's stated error, never fitted to (--holdout) */
    char cache_mode[16];      /* what the weights were: "cold", "warm" (cold asked, but every copy fit
                               * in the last-level cache) or "l2-flush" (a GPU's) */
    int copies;
    qb_counter *counters;     /* owned */
    int n_counters;
    json_t *entries; /* Google Benchmark's entries for this point (owned) */
} qb_point;

/* An error as SQNR: −20·log10(relative Frobenius error) dB (∞ for none). */
double qb_sqnr_db(double relative_error);

/* Appends a counter: a value with its source, or unavailable with the reason (reason != NULL). */
void qb_point_add_counter(qb_point *p, const char *name, const char *source, double value, const char *reason);
void qb_point_free(qb_point *p);

/* Two points re-measured interleaved in one process (qb_measure_pair), kept in the file's
 * top-level "verification" list: a bucket's winner against its kernel's default configuration,
 * or (race) a cell's fastest scheme against the runner-up, another scheme. */
typedef struct qb_verification {
    char winner[QB_NAME_MAX], baseline[QB_NAME_MAX]; /* point names: both in the file */
    int race;               /* two schemes of one cell, or two kernels of one scheme (else a
                             * configuration against its kernel's default) */
    int pairs;
    double ratio, ratio_lo, ratio_hi; /* median and quartiles of winner ÷ baseline time over the pairs */
    int keep;               /* the winner beat the baseline beyond the noise (ratio_hi < 1) */
} qb_verification;

typedef struct qb_results {
    json_t *context; /* owned */
    qb_point *v;
    int n, cap;
    int *slots, n_slots; /* points by name: an open-addressing hash of indices + 1 */
    qb_verification *ver; /* re-measured winners, in the order they were made */
    int n_ver;
} qb_results;

/* A CPU point's phase object ({"waited_s", "redone", "usual", and "read": {"cores_gops",
 * "usual_cores_gops", "dram_gbs", "usual_dram_gbs"} where the sentinel read), or NULL for a GPU
 * point. */
json_t *qb_point_phase(const qb_point *p);

void qb_results_init(qb_results *r, json_t *context /* taken */);
/* Appends p, taking what it owns (entries, counters); p is left empty. Failed and predicted
 * points have no entries: theirs is made from the fields. */
void qb_results_add(qb_results *r, qb_point *p);
const qb_point *qb_results_find(const qb_results *r, const char *name);
/* Records a re-measurement: a configuration's replaces an earlier one of the same two points; a
 * race is appended (each entry of the same two points is one round). */
void qb_results_add_verification(qb_results *r, const qb_verification *v);
int qb_results_write(const qb_results *r, const char *path, qc_msgs *err);
/* QC_EINPUT with "<path>: <what is wrong>" for a missing, truncated, corrupt or foreign file,
 * or one that says something impossible (a point's entries that disagree, a name that does not
 * match its fields, an unknown kernel, a problem qbench would refuse). parse reads the file's
 * bytes (name: for messages). */
int qb_results_read(const char *path, qb_results *r, qc_msgs *err);
int qb_results_parse(const char *text, size_t len, const char *name, qb_results *r, qc_msgs *err);
/* The largest results file qbench reads: $QBENCH_RESULTS_MAX_MB MiB, else 1 GiB. */
size_t qb_results_max_bytes(void);
void qb_results_free(qb_results *r);

/* ---- merging (qbench merge: shards, or sweeps of one device run apart) ---- */
typedef struct qb_merge_stats {
    int files, points;  /* read; points in the merged file */
    int duplicates;     /* exact copies dropped */
    int twice;          /* points measured twice (not exact copies): the lower cv kept */
    int disagree;       /* of those, the two medians apart beyond their noise (each reported) */
} qb_merge_stats;

/* Joins the files into *out. Refuses (QC_EINPUT, naming the two files and the field) files of
 * different qbench versions, devices (context.qbench.device_name, else profile), profiles,
 * cache modes, or a predicted file with a measured one, unless force; and shards of one plan
 * with one missing, or shards of different plans, unless force. An exact duplicate of a point
 * is dropped; a point measured twice keeps the measurement with the lower cv (a failed check
 * always stands), and notes gets a line when the two medians differ by more than twice their
 * combined spread. The context is the first file's, without "shard", with "merged_from": one
 * {file, host_name, shard, points} per file. */
int qb_results_merge(const char *const *paths, int n, int force, qb_results *out, qb_merge_stats *st, qc_msgs *notes,
                     qc_msgs *err);

/* "w4a16/g128/sym/f16/m1/n4096/k14336/w4a16.avx512bf16/threads=2,mr=1,..."; fp8 per-channel
 * adds "/ch" after the scheme, SmoothQuant "/smooth0.50" and warm weights "/warm" before the
 * kernel. */
void qb_point_name(qb_point *p);

#endif
