/* cli/pipeline: the stages as the command line drives them, and the chain `qbench sweep` runs:
 * probe (when the profile has no ceilings) → sweep → fit → tune → emit → plot. The stages
 * after the sweep read a results file; each one is also a command of its own (fit, tune,
 * emit, plot), through the same functions. Nothing here writes back into an earlier stage's
 * file: the fit goes into the profile, results.json stays as the sweep wrote it. */
#ifndef QBENCH_CLI_PIPELINE_H
#define QBENCH_CLI_PIPELINE_H

#include <stdio.h>

#include "bench/results.h"
#include "bench/sweep.h"
#include "profiles/profile.h"
#include "tuner/roofline.h"

/* A results file as the later stages read it: its bytes read once (and hashed: the provenance
 * every output names), its points as the tuner's observations. */
typedef struct cli_results {
    const char *path;
    qb_results res;
    qt_obs *obs;          /* the timed points (measured or predicted) */
    int n_obs;
    char hash[17];
    char device[64];      /* the profile the results were made with */
    qt_fitted fit;        /* the model fitted to them (fit.n = 0 when none could be) */
    qt_verdict *verdicts; /* winners re-measured against their kernel's default */
    int n_verdicts;
    qt_race *races;       /* close races between schemes, re-measured */
    int n_races;
    /* a --model sweep's model (context.qbench.model): its layers, blocks and name; n_layers 0: none */
    qt_layer *layers;
    int n_layers, blocks;
    char model[256];
} cli_results;

int cli_results_load(cli_results *r, const char *path, qc_msgs *err);
void cli_results_free(cli_results *r);

/* ---- fit ---- */
/* The fit cli_results_load made; QC_EINPUT (with why) when it could make none. */
int cli_fit(const cli_results *r, qc_msgs *err);
/* The model per kernel in physical terms (the share of each ceiling it reaches, t0), its stated
 * error per scheme (in sample, leaving each shape out, on held-out points), and (crossovers)
 * where the schemes swap order, predicted beside measured. */
void cli_fit_report(const cli_results *r, FILE *f, int crossovers);
/* Writes the fit into a copy of prof, at path (the results' hash as its provenance). */
int cli_fit_write(const cli_results *r, const qp_profile *prof, const char *path, qc_msgs *err);
/* A profile by its file (a path, or a file that exists here) or by its name (or alias) on the
 * search path, as a copy; QC_EINPUT with why when there is none. */
int cli_profile_named(const char *what, qp_profile **out, qc_msgs *err);
/* The profile to fit against: `want` (cli_profile_named), or the one the results were made with;
 * it must be that device's. */
int cli_profile_for(const char *want, const char *device, qp_profile **out, qc_msgs *err);

/* ---- tune, emit, plot ---- */
typedef struct cli_tune_args {
    int edges[QB_MAX_AXIS], n_edges; /* --buckets, ascending */
    double max_error;                /* --max-error */
    double min_sqnr_db;              /* --min-sqnr (0: none) */
    double tie_margin;               /* --tie-margin, a fraction (0: the default) */
} cli_tune_args;

/* --buckets (o = 'b'), --max-error (o = 'e'), --min-sqnr (o = 's') and --tie-margin (o = 't'). */
int cli_tune_option(int o, const char *arg, cli_tune_args *t, qc_msgs *err);
int cli_tune(const cli_results *r, const cli_tune_args *a, qt_tuned *out, qc_msgs *err);
void cli_tune_report(const qt_tuned *t, double tie_margin, FILE *f);
/* The dispatch table (header, json or vllm) at path, atomically; tie_margin as qt_cells. */
int cli_emit(const cli_results *r, const qt_tuned *t, double tie_margin, const char *format, const char *path,
             qc_msgs *err);
/* The results files as one (qb_results_merge) at out, atomically; its notes (points measured
 * twice that disagree, shards missing under force) on stderr. */
int cli_merge(const char *const *paths, int n, int force, const char *out, qb_merge_stats *st, qc_msgs *err);
/* One table for a fleet (qt_emit_fleet): a results file per swept device, and the catalog's other
 * GPU profiles answered by the model of the nearest swept GPU (by compute capability). */
int cli_emit_fleet(const char *const *paths, int n, const cli_tune_args *ta, const char *format, const char *path,
                   qc_msgs *err);
/* The pictures into dir; *written counts them. */
int cli_plot(const cli_results *r, const qt_tuned *t, double tie_margin, const char *dir, int *written, qc_msgs *err);
/* Per shape and option set: the tuned time of each scheme at each M measured, the fastest
 * scheme, and how w4a16 compares with fp16 and w8a8; for a model, its totals per scheme and M
 * (qt_model_totals). */
void cli_summary(const cli_results *r, double tie_margin, FILE *f);

/* ---- timing (run and sweep) ---- */
/* --cache warm|cold (*warm), --max-cv PCT (m->max_cv, a fraction), --budget S (m->budget_s):
 * name is the option without its dashes. */
int cli_timing_option(const char *name, const char *arg, qb_measure_opts *m, int *warm, qc_msgs *err);
/* --act fp16|bf16 (*bf16 set; QC_EINPUT with a message otherwise); without it (text NULL), the
 * model's torch_dtype decides: bf16 for a bfloat16 model, else fp16. */
int cli_act_option(const char *text, const qm_model *model, int *bf16, qc_msgs *err);
#define CLI_TIMING_HELP                                                                                          \
    "  --cache MODE      cold (default): the weights rotate among copies that exceed the last-level\n"            \
    "                    cache 8x (on a GPU, L2 flushed before each call); warm: one copy, left in\n"          \
    "                    the caches (what a kernel does when the memory is no limit)\n"                       \
    "  --max-cv PCT      noise target (default 3): rounds of repetitions run again while a round's\n"          \
    "                    coefficient of variation is above it; a point still above is marked noisy\n"        \
    "  --budget S        wall seconds of timing rounds per point (default: 5 times its first round)\n"

/* ---- the device ---- */
/* What --device names (host, cuda:N, or a profile) and its profile; for the host, a measured
 * profile of this CPU on the search path. Not local: an error unless predict. */
int cli_device_profile(const char *device, int predict, qp_target *t, qc_msgs *err);

/* ---- the chain of `qbench sweep` ---- */
typedef struct cli_sweep_args {
    const char *command;     /* the command line, for whoever finds the folder locked */
    const char *device;      /* --device */
    const char *dir;         /* where everything goes */
    const char *results;     /* the results file (dir/results.json, or --resume's) */
    int resume, predict;
    qb_shard shard;          /* --shard: this process's part (count 0: the whole run set) */
    qb_axes axes;
    qb_measure_opts measure; /* min_time, repetitions; --model's weights and --acts' activations */
    const char *acts;        /* --acts FILE (for the results' context) */
} cli_sweep_args;

/* Runs the chain, holding the output folder's lock. Returns an exit code; 128 + the signal
 * when SIGINT, SIGTERM or SIGHUP stopped the sweep (everything finished is in the results
 * file). */
int cli_pipeline(cli_sweep_args *a, qc_msgs *err);
/* --device cuda:all: one worker process per visible GPU (all of one type; QBENCH_FAKE_CUDA_DEVICES
 * stands in for them in tests), each this command line (argv, argv[0] the command) again with
 * CUDA_VISIBLE_DEVICES naming its GPU and QBENCH_GPU_WORKER=I/N (shard I of N on cuda:0), its
 * output in a->dir/shard-I-of-N.log; then the shards merged into a->results and the chain after
 * the sweep. A signal is passed on to the workers, which stop after their current point. */
int cli_pipeline_gpus(cli_sweep_args *a, int argc, char **argv, qc_msgs *err);

#endif
