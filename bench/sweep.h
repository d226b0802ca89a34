/* bench/sweep: the sweep engine. Axes are named lists (NVBench style); the run set is their
 * cartesian product minus what does not apply (group only for grouped schemes), with M =
 * batch × seq deduplicated. Each point is checked against the fp64 reference first (a wrong
 * result is recorded as failed and not timed), timed through Google Benchmark (cbench) with
 * the weights rotated among copies, counted (PAPI), and placed against the profile's ceilings. */
#ifndef QBENCH_BENCH_SWEEP_H
#define QBENCH_BENCH_SWEEP_H

#include <signal.h>
#include <stdio.h>

#include "bench/results.h"
#include "common/qc.h"
#include "kernels/qk.h"
#include "profiles/profile.h"

enum { QB_MAX_AXIS = 64, QB_MAX_SHAPES = 64 };
enum { QB_CONFIGS_DEFAULT, QB_CONFIGS_PRUNED, QB_CONFIGS_ALL };

typedef struct qb_shape {
    char name[32]; /* "llama-3-8b.gate" or "4096x14336" */
    int n, k;
} qb_shape;

typedef struct qb_axes {
    int batch[QB_MAX_AXIS], n_batch;
    int seq[QB_MAX_AXIS], n_seq;
    int group[QB_MAX_AXIS], n_group;
    qk_scheme scheme[QK_SCHEME_COUNT];
    int n_scheme;
    qb_shape shape[QB_MAX_SHAPES];
    int n_shape;
    int configs;
    int cuda;      /* sweep the CUDA kernels (on the local GPU) instead of the CPU's */
} qb_axes;

/* Integer list: "1,2,4", "1:64" (powers of two from 1 to 64), "1:64:*4" (times 4),
 * "128:1024:128" (steps of 128). Values outside [lo, hi] are errors. */
int qb_parse_ints(const char *opt, const char *text, int lo, int hi, int *out, int *n, qc_msgs *err);
int qb_parse_schemes(const char *text, qb_axes *a, qc_msgs *err);
/* Named sets (llama-2-7b, llama-3-8b, mistral-7b, qwen2.5-7b, llama-2-70b, llama-3-70b, each also
 * "-fused") or explicit NxK, comma-separated; distinct N×K only. */
int qb_parse_shapes(const char *text, qb_axes *a, qc_msgs *err);
int qb_parse_configs(const char *text, qb_axes *a, qc_msgs *err);
/* The names of the shape sets, for help text. */
const char *qb_shape_sets(void);

/* The quick default grid (README's main job). */
void qb_axes_quick(qb_axes *a);
/* The fuller default grid. */
void qb_axes_default(qb_axes *a);

typedef struct qb_task {
    qk_problem p;
    const qk_kernel *kernel; /* NULL for predicted points */
    qk_config cfg;
    qb_point point;          /* name and identity fields filled in */
} qb_task;

/* The run set; kernels are the ones this machine runs (predict: none). */
int qb_plan(const qb_axes *a, int predict, qb_task **tasks, int *n, qc_msgs *err);

typedef struct qb_sweep_opts {
    double min_time;    /* per repetition */
    int repetitions;
    const qp_profile *profile; /* for the ceilings (may have none) */
    const char *out;    /* written after every point */
    FILE *log;          /* progress: a live line on a terminal, plain lines otherwise */
    int tty;
    volatile sig_atomic_t *stop; /* set by SIGINT: finish the current point, write, return */
} qb_sweep_opts;

/* Runs every task not already in res (a resume), appending points and writing o->out after
 * each. Returns QC_OK, or QC_ERUNTIME on a failure to write; *done counts points run now. */
int qb_sweep_run(const qb_task *tasks, int n, qb_results *res, const qb_sweep_opts *o, int *done, qc_msgs *err);

/* Times calls of kernel k through Google Benchmark (cbench), rotating among the weight copies:
 * the one way qbench times a CPU kernel (qbench run and the sweep). */
struct cbench_result;
int qb_time_kernel(const qk_kernel *k, const qk_config *cfg, const qk_weights *copies, int n_copies,
                   const uint16_t *x, int m, void *y, void *work, double min_time, int repetitions, const char *name,
                   struct cbench_result *out, qc_msgs *err);

/* The ceilings a point meets on a profile: the DRAM read bandwidth and the peak of the number
 * format its kernel computes in, at `threads` (0: the most measured). 0 when absent. */
void qb_ceilings(const qp_profile *prof, const qb_task *t, int threads, double *gbs, double *gops);

#endif
