/* Checking and timing CUDA kernels (CUDA runtime from C). */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <string.h>

#include "bench/gpu.h"
#include "hardware/gpu_counters.h"

#define CK(call)                                                                                                  \
    do {                                                                                                          \
        cudaError_t e_ = (call);                                                                                  \
        if (e_ != cudaSuccess) {                                                                                  \
            qc_msgs_addf(err, "%s: %s (%s)", #call, cudaGetErrorString(e_), cudaGetErrorName(e_));                \
            rc = QC_ERUNTIME;                                                                                     \
            goto done;                                                                                            \
        }                                                                                                         \
    } while (0)

typedef struct gpu_call {
    const qk_kernel *k;
    const qk_config *cfg;
    const qk_weights *w;
    const uint16_t *x;
    int m;
    void *y, *work, *flush;
    size_t flush_bytes;
    cudaStream_t stream;
    cudaEvent_t e0, e1;
    int calls, failed;
    qc_msgs err;
} gpu_call;

static double gpu_once(void *ctx)
{
    gpu_call *c = ctx;
    float ms = 0;
    if (c->failed)
        return 1e-3; /* keep Google Benchmark moving; the failure is reported after */
    /* the flush (cold): outside the events */
    if ((c->flush_bytes && cudaMemsetAsync(c->flush, c->calls++ & 0xff, c->flush_bytes, c->stream) != cudaSuccess) ||
        cudaEventRecord(c->e0, c->stream) != cudaSuccess ||
        qk_gemm_cuda(c->k, c->cfg, c->w, c->x, c->m, c->y, c->work, c->stream, &c->err) != QC_OK ||
        cudaEventRecord(c->e1, c->stream) != cudaSuccess || cudaEventSynchronize(c->e1) != cudaSuccess ||
        cudaEventElapsedTime(&ms, c->e0, c->e1) != cudaSuccess) {
        if (!c->err.n)
            qc_msgs_addf(&c->err, "CUDA: %s", cudaGetErrorString(cudaGetLastError()));
        c->failed = 1;
        return 1e-3;
    }
    return ms * 1e-3;
}

int qb_gpu_measure(const qk_kernel *k, const qk_config *cfg, const qk_weights *host_w, const uint16_t *x, int m,
                   void *y_host, const cbench_options *timing, int warm, const char *name, cbench_result *t,
                   qb_point *counters_to, qc_msgs *err)
{
    int rc = QC_OK, l2 = 0;
    qk_problem p = host_w->p;
    p.m = m;
    const size_t xb = (size_t)m * p.k * 2, yb = (size_t)m * p.n * (p.out_f32 ? 4 : 2);
    gpu_call c = {.k = k, .cfg = cfg, .m = m};
    qk_weights dw = {0};
    void *dx = NULL;
    memset(t, 0, sizeof *t);
    if (host_w->layout != QK_LAYOUT_CUDA) {
        qc_msgs_addf(err, "%s needs its weights packed in the CUDA layout", k->name);
        return QC_EINPUT;
    }
    if ((rc = qk_cuda_upload(host_w, &dw, err)))
        return rc;
    c.w = &dw;
    CK(cudaStreamCreate(&c.stream));
    CK(cudaEventCreate(&c.e0));
    CK(cudaEventCreate(&c.e1));
    CK(cudaMalloc(&dx, xb));
    CK(cudaMemcpy(dx, x, xb, cudaMemcpyHostToDevice));
    c.x = dx;
    CK(cudaMalloc(&c.y, yb));
    size_t wb = qk_kernel_workspace(k, &p, cfg);
    CK(cudaMalloc(&c.work, wb ? wb : 256));
    CK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
    if (!warm) {
        c.flush_bytes = 2 * (size_t)(l2 > 0 ? l2 : 64 << 20);
        CK(cudaMalloc(&c.flush, c.flush_bytes));
    }
    /* poison, run once, bring the output back for the check */
    CK(cudaMemset(c.y, 0xff, yb));
    if ((rc = qk_gemm_cuda(k, cfg, &dw, dx, m, c.y, c.work, c.stream, err)))
        goto done;
    CK(cudaStreamSynchronize(c.stream));
    CK(cudaMemcpy(y_host, c.y, yb, cudaMemcpyDeviceToHost));
    cbench_options o = *timing;
    o.manual_time = 1;
    rc = cbench_run(name, gpu_once, &c, &o, t, err);
    if (!rc && c.failed) {
        for (int i = 0; i < c.err.n; i++)
            qc_msgs_addf(err, "%s", c.err.v[i]);
        rc = QC_ERUNTIME;
    }
    if (!rc) { /* CUPTI over one more call: every kernel of it is a range */
        qh_gpu_counters *gc;
        int dev = 0;
        cudaGetDevice(&dev);
        if (qh_gpu_counters_create(&gc, dev, qh_gpu_metrics, qh_n_gpu_metrics, err) == QC_OK) {
            qh_gpu_counters_begin(gc);
            rc = qk_gemm_cuda(k, cfg, &dw, dx, m, c.y, c.work, c.stream, err);
            cudaStreamSynchronize(c.stream);
            qh_gpu_counters_end(gc);
            for (int i = 0; i < qh_gpu_counters_count(gc); i++) {
                const qh_counter *q = qh_gpu_counters_get(gc, i);
                qb_point_add_counter(counters_to, q->name, "cupti", (double)q->value, q->available ? NULL : q->reason);
            }
            qh_gpu_counters_destroy(gc);
        }
    }
done:
    qc_msgs_free(&c.err);
    cudaFree(c.flush);
    cudaFree(c.work);
    cudaFree(c.y);
    cudaFree(dx);
    if (c.e0)
        cudaEventDestroy(c.e0);
    if (c.e1)
        cudaEventDestroy(c.e1);
    if (c.stream)
        cudaStreamDestroy(c.stream);
    qk_cuda_weights_free(&dw);
    return rc;
}
