/* Built without the CUDA backend: no CUDA kernel can run, and each entry point says why. */
#include <stdarg.h>
#include <stdio.h>

#include "kernels/cuda/qk_cuda.h"

int qk_cuda_available(char *why, size_t len)
{
    snprintf(why, len, "qbench was built without CUDA (rebuild with nvcc on PATH and QBENCH_CUDA=AUTO or ON)");
    return 0;
}

int qk_cuda_error(char *buf, size_t len)
{
    snprintf(buf, len, "qbench was built without CUDA");
    return 1;
}

void qk_cuda_set_error(const char *fmt, ...) { (void)fmt; }

int qk_cuda_upload(const qk_weights *host, qk_weights *dev, qc_msgs *err)
{
    (void)host;
    (void)dev;
    qc_msgs_addf(err, "qbench was built without CUDA");
    return QC_ERUNTIME;
}

void qk_cuda_weights_free(qk_weights *dev) { (void)dev; }

static void unavailable(void) {}

void qk_cuda_wonly(const qk_run_args *a) { (void)a, unavailable(); }
void qk_cuda_lt(const qk_run_args *a) { (void)a, unavailable(); }
void qk_cuda_w4a8(const qk_run_args *a) { (void)a, unavailable(); }
size_t qk_cuda_wonly_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg) { return (void)k, (void)p, (void)cfg, 0; }
size_t qk_cuda_lt_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg) { return (void)k, (void)p, (void)cfg, 0; }
size_t qk_cuda_w4a8_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg) { return (void)k, (void)p, (void)cfg, 0; }
