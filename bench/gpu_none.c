/* Built without CUDA: there is no GPU to measure. */
#include "bench/gpu.h"

int qb_gpu_measure(const qk_kernel *k, const qk_config *cfg, const qk_weights *host_w, const uint16_t *x, int m,
                   void *y_host, const cbench_options *timing, int warm, const char *name, cbench_result *t,
                   qb_point *counters_to, qc_msgs *err)
{
    (void)k, (void)cfg, (void)host_w, (void)x, (void)m, (void)y_host, (void)timing, (void)warm, (void)name;
    (void)t, (void)counters_to;
    qc_msgs_addf(err, "qbench was built without CUDA (rebuild with nvcc on PATH and QBENCH_CUDA=AUTO or ON)");
    return QC_ERUNTIME;
}
