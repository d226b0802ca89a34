/* plots/: gnuplot pictures of a sweep: the roofline (measured ceilings, every run, each scheme's
 * fitted roof), the throughput of each scheme against M for each shape (measured and modelled:
 * where they cross), for a model the tokens/s a pass through its linear layers bounds, a heat map of the winning scheme over M × shape (ties named), and the
 * model's residuals against M. It draws what the results and the tuner give it and computes
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

/* One scheme (with its options) against M: on a shape, GFLOP/s; on a model, tokens/s; measured,
 * and the model's (n_model points, drawn dashed in the same colour; 0: none). */
typedef struct qv_line {
    char label[48];  /* "w4a16 g128" */
    int scheme;      /* its colour */
    int n;
    const double *m, *y;
    int n_model;
    const double *model_m, *model_y;
} qv_line;

/* A scheme's fitted roof: min(bw · intensity, peak), dashed in its colour on the roofline. */
typedef struct qv_model_roof {
    int scheme;
    double gbs, gops;
} qv_model_roof;

/* A point of the residual picture: predicted ÷ measured time at M. */
typedef struct qv_residual {
    int scheme;
    double m, ratio;
    int held_out;    /* drawn hollow */
} qv_residual;

/* The throughput picture of one shape (or the tokens/s picture of a model). */
typedef struct qv_shape {
    char name[256];  /* "4096x14336": the picture is throughput-<name>; a model's: tokens-<name> */
    const qv_line *lines;
    int n_lines;
} qv_shape;

/* One cell of the winners' heat map. */
typedef struct qv_cell {
    char row[64];    /* "4096x14336 g128" */
    int m_hi, scheme;
    int tie_with;    /* the other scheme of a tie, −1 when none: the cell says "a=b" */
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
    const qv_model_roof *model_roofs;
    int n_model_roofs;
    const qv_residual *residuals;
    int n_residuals;
    const qv_shape *tokens;  /* a --model sweep's decode bound, tokens/s against the batch (NULL: none) */
} qv_input;

/* Is gnuplot here? When not, *why says what to install. */
int qv_available(char *why, size_t len);
/* Writes DIR/roofline.{png,svg}, DIR/throughput-<shape>.{png,svg} per shape, DIR/tokens-<model>.{png,svg}
 * for a model, DIR/winners.{png,svg}
 * and, with residuals, DIR/residuals.{png,svg} (with their .dat and .gp beside them). *written
 * counts the pictures. */
int qv_plot(const qv_input *in, const char *dir, int *written, qc_msgs *err);

#endif
