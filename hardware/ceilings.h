/* hardware/ ceilings: short micro-benchmarks in the spirit of STREAM and the Empirical
 * Roofline Toolkit, each readable in one sitting. A measurement repeats until min_time has
 * passed (at least 5 times) and reports the best repetition, the median and the spread. */
#ifndef QBENCH_HARDWARE_CEILINGS_H
#define QBENCH_HARDWARE_CEILINGS_H

#include <stddef.h>

#include "common/qc.h"

struct qh_host;

enum { QH_MAX_REPS = 1000 };

typedef struct qh_rate {
    double best;   /* the highest rate seen (GB/s or GOP/s) */
    double median;
    double cv;     /* coefficient of variation of the repetitions */
    int reps;
    double rate[QH_MAX_REPS]; /* every repetition */
} qh_rate;

/* Adds b's repetitions to a and summarizes them together. */
void qh_rate_merge(qh_rate *a, const qh_rate *b);

/* Read-only streaming over `bytes` (the working set of all threads together) on `threads`
 * threads: GB/s of data read. */
int qh_stream_read(size_t bytes, int threads, double min_time, qh_rate *out, qc_msgs *err);
/* Read-write streaming (a[i] = a[i]·c, in place): GB/s of data read plus written. */
int qh_stream_rw(size_t bytes, int threads, double min_time, qh_rate *out, qc_msgs *err);

/* ---- bandwidth per memory level ---- */
typedef enum qh_level { QH_L1, QH_L2, QH_L3, QH_DRAM, QH_LEVEL_COUNT } qh_level;
const char *qh_level_name(qh_level l); /* "L1", "L2", "L3", "DRAM" */

typedef struct qh_bw_point {
    size_t bytes;       /* working set, all threads */
    qh_rate read, rw;
} qh_bw_point;

typedef struct qh_level_bw {
    int present;
    size_t working_set; /* the representative working set (all threads) */
    double read_gbs, read_cv, rw_gbs, rw_cv;
} qh_level_bw;

/* Streams working sets from well inside L1 to 8× the last-level cache (doubling; quick: ×4 per
 * step; the last one, DRAM, in 7 slices 0.3 s apart) and names the plateaus from the host's
 * cache sizes: each level's figure is the median of the points whose per-thread working set
 * sits inside that level and outside the one below.
 * points (optional, up to 64) receives the whole curve. */
int qh_bandwidth_levels(const struct qh_host *h, int threads, int quick, qh_level_bw out[QH_LEVEL_COUNT],
                        qh_bw_point *points, int *n_points, qc_msgs *err);

/* ---- peak rate per number format (register-resident, no memory traffic) ---- */
typedef enum qh_format {
    QH_FP32_FMA,  /* fp32 FMA (AVX2) */
    QH_FP16_FMA,  /* fp16 → fp32 convert (F16C) + FMA */
    QH_INT8_DOT,  /* int8 dot: vpmaddubsw + vpmaddwd (AVX2), or vpdpbusd (AVX-512 VNNI) where present */
    QH_INT4_DOT,  /* int4 unpack + int8 dot, same paths */
    QH_FP8_FMA,   /* e4m3 → fp16 bits → fp32 convert + FMA */
    QH_BF16_DOT,  /* vdpbf16ps (AVX-512 BF16), where present */
    QH_FORMAT_COUNT
} qh_format;
const char *qh_format_name(qh_format f); /* "fp32_fma", ... */

/* GOP/s (a multiply-add counts 2) on `threads` threads; *isa names the path measured.
 * QC_EINPUT when this CPU has no such path. */
int qh_peak(qh_format f, int threads, double min_time, qh_rate *out, const char **isa, qc_msgs *err);

/* ---- the machine's phase now ----
 * A guest's cores and memory are shared: for seconds or minutes at a time its cores may run at
 * half rate (two virtual CPUs on one physical core) or its DRAM bandwidth may double or halve. A
 * sentinel reads the phase in about 4 ms: the fp32 FMA rate on `threads` threads (the best of
 * 3 bursts) and the read rate of one pass over `bytes` (beyond the last-level cache; the best
 * of 2). The usual phase: the cores at ≥ QH_PHASE_CORES of the upper quartile of the latest
 * QH_PHASE_HISTORY bursts, and the DRAM read within QH_PHASE_DRAM× of the median of the latest
 * reads, either way. The history spans a sweep's session (two reads a point, about 500 points):
 * a spell of minutes is told apart from the session's usual phase, as the probed ceilings the
 * model is fitted against are; a machine loaded for good becomes the usual after half of it. */
#define QH_PHASE_CORES 0.85
#define QH_PHASE_DRAM 1.25
#define QH_PHASE_HISTORY 1023
int qh_phase_usual(double gops, double usual_gops, double gbs, double usual_gbs);

/* One read of the phase: the cores' FMA rate (GOP/s) and the DRAM read (GB/s), beside the usual
 * rates it was compared with (0 before the first read). */
typedef struct qh_phase_read {
    double gops, usual_gops, gbs, usual_gbs;
} qh_phase_read;

typedef struct qh_sentinel qh_sentinel;
/* Its read pass covers twice the last-level cache (llc_bytes), 64 MiB at least, as cold
 * weights do. Reads itself a few times for a first usual rate. NULL where the CPU has no AVX2
 * or the buffer cannot be had. */
qh_sentinel *qh_sentinel_create(double llc_bytes, int threads);
/* One read: is the machine in its usual phase? */
int qh_sentinel_usual(qh_sentinel *s);
/* Adds a read of the cores' rate (GOP/s) and the DRAM read (GB/s) to the history and judges it,
 * as qh_sentinel_usual does with the read it makes. */
int qh_sentinel_add(qh_sentinel *s, double gops, double gbs);
/* The latest read. */
qh_phase_read qh_sentinel_last(const qh_sentinel *s);
/* Reads every 100 ms, up to max_s, until the machine is in its usual phase: the seconds
 * waited (0 when it was at once), or -1 when it did not return to it in time. */
double qh_sentinel_wait(qh_sentinel *s, double max_s);
void qh_sentinel_free(qh_sentinel *s);

#endif
