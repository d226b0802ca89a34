/* plots/: gnuplot pictures of a sweep: the roofline (measured ceilings and every run), the
 * throughput of each scheme against M for each shape (where they cross), and a heat map of the
 * winning scheme over M × shape. Computes nothing new: it draws what results and the tuner
 * give it. Prefix qv_ (the pictures; qp_ is the profiles'). */
#ifndef QBENCH_PLOTS_PLOT_H
#define QBENCH_PLOTS_PLOT_H

#include "common/qc.h"

typedef struct qv_point {
    int scheme, m, n, k;
    double intensity, gflops;
} qv_point;

typedef struct qv_ceiling {
    char label[48];  /* "DRAM 33.5 GB/s", "fp32_fma 235.9 GOP/s" */
    double gbs;      /* a bandwidth roof (gops = 0) */
    double gops;     /* or a compute roof (gbs = 0) */
} qv_ceiling;

typedef struct qv_cell {
    int n, k, m_hi, scheme;
} qv_cell;

typedef struct qv_input {
    const char *device;
    const qv_point *points;
    int n_points;
    const qv_ceiling *ceilings;
    int n_ceilings;
    const qv_cell *winners;
    int n_winners;
} qv_input;

/* Is gnuplot here? When not, *why says what to install. */
int qv_available(char *why, size_t len);
/* Writes DIR/roofline.{png,svg}, DIR/throughput-NxK.{png,svg} per shape and DIR/winners.{png,svg}
 * (with their .dat and .gp beside them). *written counts the pictures. */
int qv_plot(const qv_input *in, const char *dir, int *written, qc_msgs *err);

#endif
