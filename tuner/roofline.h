/* tuner/roofline: the roofline model of a device and number format: a call that moves B
 * bytes and does F operations takes t = t0 + max(B / BW, F / P). The bytes and operations come
 * from the one cost function (kernels/qk.h, qk_problem_cost). */
#ifndef QBENCH_TUNER_ROOFLINE_H
#define QBENCH_TUNER_ROOFLINE_H

typedef struct qt_model {
    double bw_gbs;    /* memory bandwidth, GB/s */
    double peak_gops; /* operations per second of the number format, G/s */
    double t0_s;      /* fixed cost per call, seconds */
} qt_model;

/* Predicted seconds; 0 when the model has no bandwidth or no peak. */
double qt_predict(const qt_model *m, double bytes, double flops);
/* "memory" or "compute": which term of the max bounds it. */
const char *qt_bound(const qt_model *m, double bytes, double flops);

#endif
