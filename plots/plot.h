/* plots/: gnuplot pictures of a sweep: the roofline (measured ceilings and every run), the
 * throughput of each scheme against M for each shape (where they cross), and a heat map of the
 * winning scheme over M × shape. It draws what the results and the tuner give it and computes
 * nothing new. Every file (data, script, PNG, SVG) appears whole or not at all; gnuplot runs
 * without a shell, and every string from a results file reaches its script escaped.
 * Prefix qv_ (the pictures; qp_ is the profiles'). */
#ifndef QBENCH_PLOTS_PLOT_H
#define QBENCH_PLOTS_PLOT_H

#include "common/qc.h"

/* One run on the roofline picture. */
typedef struct qv_point {
    int scheme;
    double intensity, gflops;
} qv_point;

typedef struct qv_ceiling {
    char label[48];  /* "DRAM 33.5 GB/s", "fp32_fma 235.9 GOP/s" */
    double gbs;      /* a bandwidth roof (gops = 0) */
    double gops;     /* or a compute roof (gbs = 0) */
} qv_ceiling;

/* One scheme (with its options) on one shape: GFLOP/s against M. */
typedef struct qv_line {
    char label[48];  /* "w4a16 g128" */
    int scheme;      /* its colour */
    int n;
    const double *m, *gflops;
} qv_line;

/* The throughput picture of one shape. */
typedef struct qv_shape {
    char name[48];   /* "4096x14336": the picture is throughput-<name> */
    const qv_line *lines;
    int n_lines;
} qv_shape;

/* One cell of the winners' heat map. */
typedef struct qv_cell {
    char row[64];    /* "4096x14336 g128" */
    int m_hi, scheme;
} qv_cell;

typedef struct qv_input {
    const char *device;
    const qv_point *points;
    int n_points;
    const qv_ceiling *ceilings;
    int n_ceilings;
    const qv_shape *shapes;
    int n_shapes;
    const qv_cell *winners;
    int n_winners;
} qv_input;

/* Is gnuplot here? When not, *why says what to install. */
int qv_available(char *why, size_t len);
/* Writes DIR/roofline.{png,svg}, DIR/throughput-<shape>.{png,svg} per shape and
 * DIR/winners.{png,svg} (with their .dat and .gp beside them). *written counts the pictures. */
int qv_plot(const qv_input *in, const char *dir, int *written, qc_msgs *err);

#endif
