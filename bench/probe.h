/* bench/probe: measuring the host's ceilings into its profile (used by `qbench probe` and by
 * `qbench sweep` when a profile has none). */
#ifndef QBENCH_BENCH_PROBE_H
#define QBENCH_BENCH_PROBE_H

#include <stdio.h>

#include "common/qc.h"
#include "hardware/hardware.h"
#include "profiles/profile.h"

/* Bandwidth per level and peak per format, on all hardware threads and on one, written into
 * p->measured (which must already carry date, host, version and device). quick: fewer
 * working sets and shorter repetitions (a few seconds instead of about half a minute).
 * log (may be NULL) receives one line per step. */
int qb_probe_host(qp_profile *p, const qh_host *h, int quick, FILE *log, qc_msgs *err);

/* CUDA device `index`: HBM (a read kernel and a device-to-device copy), L2 (the same inside
 * it), and tensor throughput (fp16, int8, and fp8 where the device has it) from cuBLASLt. */
int qb_probe_cuda(qp_profile *p, int index, int cc_major, int cc_minor, int quick, FILE *log, qc_msgs *err);

/* A table of the measured ceilings, for people. */
void qb_print_ceilings(const qp_profile *p, FILE *f);

#endif
