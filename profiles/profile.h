/* profiles/: device profiles, schema version 1 (DESIGN.md "Files"), read, validated and
 * written with libyaml. The only place that knows device numbers.
 *
 *   qbench_profile: 1                 # schema version (required, must be 1)
 *   name: h100-sxm5-80gb              # [a-z0-9._-]+, used in file names (required)
 *   vendor: NVIDIA                    # (required)
 *   aliases: [h100]                   # names accepted by --device (optional)
 *   notes: "..."                      # free text (optional)
 *   match:                            # how local hardware is recognised (required)
 *     backend: cuda                   #   cpu | cuda
 *     name: "*H100*HBM3*"             #   fnmatch pattern on the device name, case-insensitive
 *     compute_capability: "9.0"       #   cuda only, optional
 *   spec:                             # datasheet or detected figures (required, may be empty)
 *     memory_bandwidth_gbs: {value: 3350, source: "...", note: "..."}
 *     ...                             #   every figure: value > 0 and a non-empty source
 *   measured:                         # written by `qbench probe` (optional)
 *     date: 2026-11-21T10:00:00Z
 *     host: build-01
 *     qbench_version: 0.1.0
 *     device: NVIDIA H100 80GB HBM3   #   the device as the probe saw it
 *     threads: 2                      #   "all cores" below means this many threads (optional)
 *     bandwidth:                      #   streaming GB/s per memory level (optional)
 *       - {level: DRAM, threads: 2, working_set: 268435456, read_gbs: 37.1, read_cv: 0.02,
 *          rw_gbs: 52.3, rw_cv: 0.03}  #   level L1|L2|L3|DRAM; rw = read + written
 *     peak:                           #   GOP/s per number format (a multiply-add counts 2)
 *       - {format: fp32_fma, isa: avx2, threads: 2, gops: 235.3, cv: 0.01}
 *   fit:                              # written by `qbench fit` (optional)
 *     date: 2026-11-21T10:30:00Z
 *     qbench_version: 0.1.0
 *     results: 3f2a9c0d4e5b6a71       #   hash of the results file it was fitted to
 *     t0_s: 2.1e-05                   #   the device's fixed cost per call
 *     models:                         #   per kernel, thread count and number format: the share of
 *       - {kernel: w4a16.avx512bf16, format: bf16_dot, threads: 2, mem_eff: 0.91, comp_eff: 0.78,
 *          decode_gws: 61.5, exposed: 0.3, points: 10, residual: 0.04, cv_median: 0.05,
 *          cv_max: 0.12}
 *                                     #   the DRAM read and of the format's peak it reaches (in
 *                                     #   (0, 1]), the weights it decodes per second per pass of its
 *                                     #   register tile (G/s; 0: free), the share of the shorter of
 *                                     #   the two sides it does not hide ([0, 1]; 0: the roofline's
 *                                     #   max), its in-sample RMS error and
 *                                     #   its leave-one-shape-out errors (names the tuner gives;
 *                                     #   profiles/ does not interpret them)
 *
 * Unknown keys, duplicate keys, wrong types, missing required keys and non-positive
 * figures are errors reported as "<file>:<line>: <what> (<what to do>)". */
#ifndef QBENCH_PROFILES_PROFILE_H
#define QBENCH_PROFILES_PROFILE_H

#include <stdio.h>

#include "common/qc.h"

#define QP_SCHEMA_VERSION 1
/* Limits on what a profile file may be: its size, and how deeply YAML may nest in it. */
#define QP_MAX_BYTES ((size_t)1 << 20)
#define QP_MAX_DEPTH 16

typedef enum qp_backend { QP_BACKEND_CPU, QP_BACKEND_CUDA } qp_backend;
const char *qp_backend_name(qp_backend b);

/* Spec figures, in file order. */
typedef enum qp_spec_id {
    QP_MEMORY_BANDWIDTH_GBS,
    QP_FP32_TFLOPS,
    QP_FP16_TFLOPS,  /* tensor/matrix units, dense, fp32 accumulate */
    QP_BF16_TFLOPS,
    QP_INT8_TOPS,
    QP_FP8_TFLOPS,
    QP_SMS,
    QP_CORES,
    QP_THREADS,
    QP_L1_CACHE_KIB, /* per instance */
    QP_L2_CACHE_MIB, /* per instance */
    QP_L3_CACHE_MIB, /* per instance */
    QP_MEMORY_GIB,
    QP_SPEC_COUNT
} qp_spec_id;

const char *qp_spec_key(qp_spec_id id); /* "memory_bandwidth_gbs": the unit is in the key */

typedef struct qp_figure {
    int present;
    double value;
    char *source;
    char *note; /* optional */
} qp_figure;

/* A measured ceiling: streaming bandwidth at a memory level ("L1", "L2", "L3", "DRAM"). */
typedef struct qp_bandwidth {
    char level[8];
    int threads;
    double working_set; /* bytes, all threads */
    double read_gbs, read_cv, rw_gbs, rw_cv;
} qp_bandwidth;

/* A measured ceiling: peak rate of a number format ("fp32_fma", "int8_dot", ...). */
typedef struct qp_peak {
    char format[16];
    char isa[16];
    int threads;
    double gops, cv;
} qp_peak;

/* A kernel's fitted efficiencies: with tm = bytes / (mem_eff·BW) and tc = flops / (comp_eff·P) +
 * passes·N·K / decode, t = t0 + max(tm, tc) + exposed·min(tm, tc), BW and P the profile's
 * ceilings (tuner/roofline.h). */
typedef struct qp_fit_model {
    char kernel[32], format[16];
    int threads;
    double mem_eff, comp_eff, residual;
    double decode_gws;        /* weights decoded per second per pass, G/s (0: free) */
    double exposed;           /* the share of the shorter side not hidden, [0, 1] (0 when not given) */
    double cv_median, cv_max; /* < 0 when not stated */
    int points;
} qp_fit_model;

typedef struct qp_profile {
    int schema;
    char *name, *vendor, *notes;
    char **aliases;
    int n_aliases;
    struct {
        qp_backend backend;
        char *name;                /* fnmatch pattern */
        int cc_major, cc_minor;    /* -1 when not given */
    } match;
    qp_figure spec[QP_SPEC_COUNT];
    struct {
        int present;
        char *date, *host, *qbench_version, *device;
        int threads;           /* 0 when not given */
        qp_bandwidth *bw;
        int n_bw;
        qp_peak *peak;
        int n_peak;
    } measured;
    struct {
        int present;
        char *date, *qbench_version, *results;
        double t0_s;
        qp_fit_model *model;
        int n_model;
    } fit;
    char *origin; /* where it came from: a path, or "built-in" */
} qp_profile;

/* Parse and validate. On error returns QC_EINPUT, *out = NULL, and every problem found
 * is appended to err, each "<name>:<line>: ...". */
int qp_profile_load(const char *path, qp_profile **out, qc_msgs *err);
int qp_profile_parse(const char *text, size_t len, const char *name, qp_profile **out, qc_msgs *err);

/* Write as YAML: to a FILE, or atomically to a path ("-" = stdout). */
int qp_profile_emit(const qp_profile *p, FILE *f, qc_msgs *err);
int qp_profile_write(const qp_profile *p, const char *path, qc_msgs *err);

/* Is this a profile name: 1 to 64 of a-z, 0-9, '.', '_', '-' (names go into file names and C
 * identifiers)? */
int qp_name_valid(const char *name);

qp_profile *qp_profile_new(const char *name, const char *vendor, qp_backend backend, const char *match_name);
void qp_profile_set(qp_profile *p, qp_spec_id id, double value, const char *source, const char *note);
void qp_profile_set_measured(qp_profile *p, const char *device);
qp_profile *qp_profile_copy(const qp_profile *p);
void qp_profile_free(qp_profile *p);

void qp_profile_add_bandwidth(qp_profile *p, const qp_bandwidth *b);
/* Replaces the fit section: date and version now, `results` the results file's hash. */
void qp_profile_set_fit(qp_profile *p, const char *results, double t0_s, const qp_fit_model *m, int n);
/* A kernel's fitted efficiencies at a number format and thread count (0: any); NULL when none. */
const qp_fit_model *qp_profile_fit(const qp_profile *p, const char *kernel, const char *format, int threads);
void qp_profile_add_peak(qp_profile *p, const qp_peak *k);
/* The measured ceiling for a level or format at a thread count (0: the most threads measured);
 * NULL when the profile has none. */
const qp_bandwidth *qp_profile_bandwidth(const qp_profile *p, const char *level, int threads);
const qp_peak *qp_profile_peak(const qp_profile *p, const char *format, int threads);

/* The peak of a number format ("fp32_fma", "bf16_dot", "int8_dot", "fp16_tensor", "int8_tensor",
 * "fp8_tensor", ...; a multiply-add counts 2) in GOP/s, and the streaming read bandwidth of a
 * memory level ("DRAM", "L3", ...) in GB/s, at `threads` (0: the most threads measured).
 * Measured figures win over the datasheet's; *source says which ("measured" or "spec"). 0 when
 * the profile has no such figure: a GPU without FP8, or a host profile never probed. */
double qp_profile_peak_gops(const qp_profile *p, const char *format, int threads, const char **source);
double qp_profile_bandwidth_gbs(const qp_profile *p, const char *level, int threads, const char **source);

/* Does this profile describe a local device? cc < 0: not a CUDA device. */
int qp_profile_matches(const qp_profile *p, qp_backend backend, const char *device_name, int cc_major,
                       int cc_minor);
/* Is `name` this profile's name or one of its aliases? */
int qp_profile_named(const qp_profile *p, const char *name);

/* ---- the catalog: every profile on the search path ----
 * Search path, first wins: ./profiles, each directory of $QBENCH_PROFILE_PATH (':'-separated),
 * the installed share directory. A profile shadowed by an earlier one of the same name is
 * listed but not used; a file that does not validate is listed with its first error. */
typedef struct qp_entry {
    char *path;
    char *dir_label;      /* "./profiles", "$QBENCH_PROFILE_PATH", "installed", "built-in" */
    qp_profile *profile;  /* NULL when invalid */
    char *error;          /* first error when invalid */
    int shadowed;         /* an earlier entry has the same name */
} qp_entry;

typedef struct qp_catalog {
    qp_entry *v;
    int n;
} qp_catalog;

void qp_catalog_load(qp_catalog *cat);
/* Adds p (taking ownership) after the files, e.g. the built-in host profile. */
void qp_catalog_add(qp_catalog *cat, qp_profile *p, const char *label);
/* By name or alias among the usable (valid, not shadowed) entries; NULL when none. */
const qp_profile *qp_catalog_find(const qp_catalog *cat, const char *name);
void qp_catalog_free(qp_catalog *cat);
/* The directories searched, for messages. */
void qp_search_path_describe(char *buf, size_t len);

/* ---- profiles of local hardware (profiles/detect.c) ---- */
struct qh_host;
struct qh_cuda_device;
/* The built-in "host" profile: identity and topology from hwloc/CPUID; no ceilings. */
qp_profile *qp_profile_from_host(const struct qh_host *h);
/* qp_catalog_load plus the built-in host profile, after the files (so a file named host wins).
 * QC_ERUNTIME, with the reason in err (may be NULL), when the host cannot be discovered; the
 * catalog then holds the files alone and must still be freed. */
int qp_catalog_load_with_host(qp_catalog *cat, qc_msgs *err);
/* A profile for a CUDA device that no shipped profile matches ("cuda0"). */
qp_profile *qp_profile_from_cuda(const struct qh_cuda_device *d);

/* What `--device X` names: "host", "cuda:N", or a profile name or alias from the catalog.
 * QC_EINPUT (with a message) when X names nothing. Otherwise *t holds a copy of the
 * profile and whether a local device matches it; when none does, `why` says so. */
struct qh_cuda;
typedef struct qp_target {
    qp_profile *profile;
    int local;              /* a local device matches the profile */
    int cuda_index;         /* the matching CUDA device, -1 for the host */
    char device_name[256];  /* the matching device's name */
    char why[512];          /* when !local */
} qp_target;

int qp_target_resolve(const char *device, const qp_catalog *cat, const struct qh_host *h,
                      const struct qh_cuda *cuda, qp_target *t, qc_msgs *err);
void qp_target_free(qp_target *t);

/* ---- probing: measuring a local device's ceilings into its profile (profiles/probe.c) ---- */
/* The host: bandwidth per memory level and peak per number format (hardware/ceilings.h), on all
 * hardware threads and on one, written into p->measured (which must already carry date, host,
 * version and device). quick: fewer working sets and shorter repetitions (a few seconds
 * instead of about half a minute). log (may be NULL) receives one line per step. */
int qp_probe_host(qp_profile *p, const struct qh_host *h, int quick, FILE *log, qc_msgs *err);
/* CUDA device `index`: HBM (a read kernel and a device-to-device copy), L2 (the same inside
 * it), and tensor throughput (fp16, int8, and fp8 where the device has it) from cuBLASLt. */
int qp_probe_cuda(qp_profile *p, int index, int cc_major, int cc_minor, int quick, FILE *log, qc_msgs *err);
/* A table of the measured ceilings beside the datasheet's, for people. */
void qp_print_ceilings(const qp_profile *p, FILE *f);

#endif
