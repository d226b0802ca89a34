/* bench/gpu: checking and timing a CUDA kernel. The weights (QK_LAYOUT_CUDA) are uploaded,
 * the kernel runs once and its output comes back for the host's fp64 check, then Google
 * Benchmark times it through cbench with manual time: CUDA events around each call, and the
 * L2 cache flushed before each call (a memset of twice its size, outside the events), so the
 * weights come from device memory ("l2-flush" mode), unless warm. Built without CUDA, it says
 * so. */
#ifndef QBENCH_BENCH_GPU_H
#define QBENCH_BENCH_GPU_H

#include "bench/cbench.h"
#include "common/qc.h"
#include "kernels/qk.h"

#include "bench/results.h"

/* y_host receives the first call's output (M×N, fp16 or fp32). The point receives CUPTI's
 * metrics over one more call as counters, each with its source or the reason it is unavailable. */
int qb_gpu_measure(const qk_kernel *k, const qk_config *cfg, const qk_weights *host_w, const uint16_t *x, int m,
                   void *y_host, const cbench_options *timing, int warm, const char *name, cbench_result *t,
                   qb_point *counters_to, qc_msgs *err);

#endif
