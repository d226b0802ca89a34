/* bench/: the sweep engine. Axes are named lists (NVBench style); the run set is their
 * cartesian product minus what does not apply (group only for grouped schemes), with M =
 * batch × seq deduplicated. Every point, in a sweep or alone (`qbench run` is a one-point
 * sweep), is measured by one path, qb_measure: its data, the check against the fp64 reference
 * (a wrong result is recorded as failed and not timed), the weight copies that keep it cold,
 * the timing through Google Benchmark (cbench), the counters, and its place under the roofline
 * (tuner/roofline.h). */
#ifndef QBENCH_BENCH_SWEEP_H
#define QBENCH_BENCH_SWEEP_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/results.h"
#include "common/qc.h"
#include "kernels/qk.h"
#include "models/model.h"
#include "profiles/profile.h"

/* ------------------------------------------------------------------ axes (bench/axes.c) */
enum { QB_MAX_AXIS = 64, QB_MAX_SHAPES = 64 };
enum { QB_CONFIGS_DEFAULT, QB_CONFIGS_PRUNED, QB_CONFIGS_ALL };

typedef struct qb_shape {
    char name[64]; /* "llama-3-8b.gate", "4096x14336", or a model's layer "mlp.down_proj" */
    int n, k;
    int layer;     /* the model's layer (qm_arch.layer) whose weights it measures; −1: synthetic */
} qb_shape;

typedef struct qb_axes {
    int batch[QB_MAX_AXIS], n_batch;
    int seq[QB_MAX_AXIS], n_seq;
    int group[QB_MAX_AXIS], n_group;
    qk_scheme scheme[QK_SCHEME_COUNT];
    int n_scheme;
    qb_shape shape[QB_MAX_SHAPES];
    int n_shape;
    qb_shape holdout[QB_MAX_SHAPES]; /* measured like the others, never fitted to: the model's test */
    int n_holdout;
    int holdout_max_m; /* held-out shapes only at M up to this (0: every M of the sweep) */
    int configs;
    int cuda;      /* sweep the CUDA kernels (on the local GPU) instead of the CPU's */
    int warm;      /* --cache warm: one copy of the weights, left in the caches between calls */
    int act_bf16;  /* --act bf16: the quantized schemes take bf16 activations (qk_problem.act_bf16) */
    const qm_model *model; /* --model: the shapes are its layers' (qb_axes_model) */
} qb_axes;

/* Integer list: "1,2,4", "1:64" (powers of two from 1 to 64), "1:64:*4" (times 4),
 * "128:1024:128" (steps of 128). Values outside [lo, hi] are errors; more than QB_MAX_AXIS
 * values too. */
int qb_parse_ints(const char *opt, const char *text, int lo, int hi, int *out, int *n, qc_msgs *err);
/* int4 group sizes: -1 (per channel) or multiples of 8. */
int qb_parse_groups(const char *text, qb_axes *a, qc_msgs *err);
int qb_parse_schemes(const char *text, qb_axes *a, qc_msgs *err);
/* Named sets (llama-2-7b, llama-3-8b, mistral-7b, qwen2.5-7b, llama-2-70b, llama-3-70b, each also
 * "-fused") or explicit NxK, comma-separated; distinct N×K only. */
int qb_parse_shapes(const char *text, qb_axes *a, qc_msgs *err);
int qb_parse_configs(const char *text, qb_axes *a, qc_msgs *err);
/* --holdout: shapes as --shapes takes them, into a->holdout. */
int qb_parse_holdout(const char *text, qb_axes *a, qc_msgs *err);
/* The names of the shape sets, for help text. */
const char *qb_shape_sets(void);

/* --model: the shapes become the model's layers, one per distinct N × K (the first layer of each
 * names it and gives its weights). */
void qb_axes_model(qb_axes *a, const qm_model *m);

/* The quick default grid (README's main job). */
void qb_axes_quick(qb_axes *a);
/* The fuller default grid. */
void qb_axes_default(qb_axes *a);

/* ------------------------------------------------------------------ the run set */
typedef struct qb_task {
    qk_problem p;
    const qk_kernel *kernel; /* predicted points: the kernel the profile's device would run */
    qk_config cfg;
    double smooth;           /* SmoothQuant alpha applied offline (w8a8, w4a8); < 0: none */
    int layer;               /* the model's layer whose weights it takes (−1: synthetic) */
    qb_point point;          /* name and identity fields filled in */
} qb_task;

/* Fills the point's identity (problem, kernel, configuration, cache mode, name) from the task:
 * warm weights (one copy, left in the caches) or cold (copies that exceed the last-level cache
 * 8×; on a GPU, the L2 flushed before each call). */
void qb_task_init(qb_task *t, const qk_problem *p, const qk_kernel *k, const qk_config *cfg, double smooth, int warm);

/* The run set. Kernels are the ones this machine runs; `predict_on` non-NULL: the kernels the
 * profile's device would run, every point to be predicted. */
int qb_plan(const qb_axes *a, const qp_profile *predict_on, qb_task **tasks, int *n, qc_msgs *err);

/* ------------------------------------------------------------------ measuring (bench/measure.c) */
typedef struct qb_measure_opts {
    double min_time;           /* seconds per repetition */
    int repetitions;           /* Google Benchmark repetitions */
    double max_cv;             /* noise target: rounds of repetitions until a round's cv is within it */
    double budget_s;           /* wall seconds of timing rounds per point (0: 5 first rounds' worth) */
    const qp_profile *profile; /* placement under its ceilings (may have none); predictions */
    int predict;               /* fill points from the profile's model instead of running them */
    int full_check;            /* check every row and channel, not the sample of 8 rows × 256 channels */
    uint64_t seed;             /* mixed into the data seeds (0: the sweep's own data) */
    const qm_model *model;     /* the weights of tasks with a layer (NULL, or no safetensors: synthetic) */
    const qm_acts *acts;       /* captured activations (--acts; NULL, or none of a K: synthetic) */
} qb_measure_opts;

/* A CPU point waits up to this long for the machine's usual phase (hardware/ceilings.h); the
 * guard's waits and repeated timings take at most a fifth of a session's time, and 2 s. */
#define QB_PHASE_WAIT_S 2.0

/* A measuring session: it keeps a point's data (weights, copies, reference columns) for the
 * next point that can reuse it. */
typedef struct qb_bench qb_bench;
qb_bench *qb_bench_create(const qb_measure_opts *o);
void qb_bench_destroy(qb_bench *b);

/* Measures one point into *out (which then owns its entries and counters; qb_point_free).
 * The point is always filled: ok, failed with its error (a wrong result is not timed), or
 * predicted. Returns QC_OK when it was measured or checked and found wrong, QC_EINPUT when the
 * point cannot be run as given (the kernel refuses it, or it needs more memory than there
 * is), QC_ERUNTIME when running it failed. */
int qb_measure(qb_bench *b, const qb_task *t, qb_point *out, qc_msgs *err);

/* Two tasks on one M × N × K, timed interleaved in this process (A, B, A, B … `pairs` times, each
 * turn at least min_time of calls on its cold copies): two configurations of one kernel on one
 * weight set, or two kernels or schemes on a weight set each (a close race between schemes).
 * The median and quartiles of A's time ÷ B's over the pairs: a slow phase of the machine slows
 * both sides of a pair alike. The pairs run on three placements of the weights in memory (the
 * copies moved to fresh pages between them): the ratio then holds how much a placement moves it.
 * QC_EINPUT for GPU kernels or sizes that differ. */
typedef struct qb_pair {
    int pairs;
    double ratio, ratio_lo, ratio_hi;
    double a_s, b_s; /* the medians of each side's per-call time */
} qb_pair;
int qb_measure_pair(qb_bench *b, const qb_task *ta, const qb_task *tb, int pairs, qb_pair *out, qc_msgs *err);

/* ------------------------------------------------------------------ shards (bench/shard.c) */
/* A sweep split across processes, nodes or GPUs: each shard runs a deterministic part of the run
 * set into its own results file, and `qbench merge` joins them. The parts are balanced by
 * predicted cost, longest first (LPT), not round-robin: a unit is the tasks that share one set
 * of weights (scheme, group, shape, kernel), so that every shard prepares each of its weights
 * once and a bucket's winner and its kernel's default stay together; a unit is halved (at an M
 * boundary) while the shards' costs differ by more than 10%. */
typedef struct qb_shard {
    int index, count;     /* count 0: the whole run set */
    char from[96];        /* where I/N came from: "--shard" or the launcher's variables */
} qb_shard;

/* "I/N" (0 ≤ I < N ≤ 4096) or "auto": the rank and size the launcher set, read in this order:
 * SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT; SLURM_PROCID with
 * SLURM_NTASKS; OMPI_COMM_WORLD_RANK with OMPI_COMM_WORLD_SIZE; PMI_RANK with PMI_SIZE. None
 * set: an error naming them. */
int qb_shard_parse(const char *text, qb_shard *s, qc_msgs *err);

typedef struct qb_shard_plan {
    int count;
    int *owner;          /* per task: its shard */
    double *cost_s;      /* per shard: predicted seconds */
    int *points;         /* per shard */
    double imbalance;    /* the costliest shard ÷ the cheapest − 1 */
    char basis[160];     /* what the point times were predicted from */
    char hash[17];       /* of the run set and its assignment: the same in every shard of one sweep */
} qb_shard_plan;

/* Splits tasks[0..n) into `count` shards. A task's predicted cost is its Google Benchmark
 * rounds, (repetitions + 1) × max(min_time, t) for the call time t the profile's model predicts
 * (its fit where it has one, else its ceilings; without either, a nominal 50 GB/s and 1 TOP/s,
 * said in basis), plus the check; a unit adds the preparation of its weights. Deterministic:
 * every shard computes the same plan from the same command line and profile. */
void qb_shard_plan_make(const qb_task *tasks, int n, int count, const qb_measure_opts *m, qb_shard_plan *out);
void qb_shard_plan_free(qb_shard_plan *p);
/* Keeps shard `index`'s tasks, in plan order; *n becomes their number. */
void qb_shard_select(const qb_shard_plan *p, int index, qb_task *tasks, int *n);

/* ------------------------------------------------------------------ the sweep (bench/sweep.c) */
typedef struct qb_sweep_opts {
    const char *out;    /* written after every point */
    FILE *log;          /* progress: a live line on a terminal, plain lines otherwise */
    int tty;
    volatile sig_atomic_t *stop; /* set by a signal: finish the current point, write, return */
} qb_sweep_opts;

/* Runs every task not already in res (a resume), appending points and writing o->out after
 * each. Returns QC_OK, or QC_ERUNTIME on a failure to write; *done counts points run now. */
int qb_sweep_run(qb_bench *b, const qb_task *tasks, int n, qb_results *res, const qb_sweep_opts *o, int *done,
                 qc_msgs *err);

#endif
