/* hardware/ GPU counters: CUPTI's Range Profiler and Profiler Host API (CUDA 13:
 * cupti_range_profiler.h, cupti_profiler_host.h), one range per kernel (auto ranges, kernel
 * replay), values summed over the kernels between begin and end. A metric the device or the
 * driver will not give (not supported; ERR_NVGPUCTRPERM: counters restricted to
 * administrators) is reported unavailable with the reason, never as 0. */
#ifndef QBENCH_HARDWARE_GPU_COUNTERS_H
#define QBENCH_HARDWARE_GPU_COUNTERS_H

#include "common/qc.h"
#include "hardware/counters.h"

typedef struct qh_gpu_counters qh_gpu_counters;

/* The metrics qbench asks for around a GPU GEMM. */
extern const char *const qh_gpu_metrics[];
extern const int qh_n_gpu_metrics;

/* Never fails because a metric is unavailable; device: the CUDA device of the current context. */
int qh_gpu_counters_create(qh_gpu_counters **out, int device, const char *const *metrics, int n, qc_msgs *err);
int qh_gpu_counters_begin(qh_gpu_counters *c);
int qh_gpu_counters_end(qh_gpu_counters *c);
int qh_gpu_counters_count(const qh_gpu_counters *c);
/* value: the metric summed over the kernels of the range (bytes, instructions, ns). */
const qh_counter *qh_gpu_counters_get(const qh_gpu_counters *c, int i);
void qh_gpu_counters_destroy(qh_gpu_counters *c);

#endif
