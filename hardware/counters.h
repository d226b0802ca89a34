/* hardware/ counters: named PAPI events around a region of code.
 *
 *   qh_counters *c;
 *   const char *ev[] = {"perf::TASK-CLOCK", "PAPI_TOT_CYC"};
 *   qh_counters_create(&c, ev, 2, &err);
 *   qh_counters_start(c);  ... region ...  qh_counters_stop(c);
 *   for (i...) { const qh_counter *k = qh_counters_get(c, i); k->available ? k->value : k->reason }
 *
 * An event that PAPI does not know, that this machine cannot count (a VM without a PMU),
 * or that cannot be started is reported unavailable with PAPI's reason. Its value is
 * never read as 0: callers must look at `available` first. Counts cover the calling
 * thread. */
#ifndef QBENCH_HARDWARE_COUNTERS_H
#define QBENCH_HARDWARE_COUNTERS_H

#include "common/qc.h"

typedef struct qh_counters qh_counters;

typedef struct qh_counter {
    const char *name;
    int available;     /* 1: value is a real count from the last start/stop */
    long long value;
    const char *reason; /* when !available: why, in PAPI's words */
} qh_counter;

/* Never fails because an event is unavailable; fails only on bad arguments. */
int qh_counters_create(qh_counters **out, const char *const *events, int n, qc_msgs *err);
int qh_counters_start(qh_counters *c);
int qh_counters_stop(qh_counters *c);
int qh_counters_count(const qh_counters *c);
const qh_counter *qh_counters_get(const qh_counters *c, int i);
void qh_counters_destroy(qh_counters *c);

/* PAPI's version, or why PAPI could not start, for reports. */
const char *qh_counters_backend(void);

/* The events qbench asks for around CPU runs, in report order. */
extern const char *const qh_cpu_events[];
extern const int qh_n_cpu_events;

#endif
