/* Built without CUDA: every GPU metric is unavailable, and says why. */
#include <stdlib.h>

#include "hardware/gpu_counters.h"

const char *const qh_gpu_metrics[] = {"dram__bytes_read.sum", "dram__bytes_write.sum", "lts__t_bytes.sum",
                                      "sm__inst_executed_pipe_tensor.sum", "gpu__time_duration.sum"};
const int qh_n_gpu_metrics = sizeof qh_gpu_metrics / sizeof qh_gpu_metrics[0];

struct qh_gpu_counters {
    int n;
    qh_counter *c;
};

int qh_gpu_counters_create(qh_gpu_counters **out, int device, const char *const *metrics, int n, qc_msgs *err)
{
    (void)device;
    (void)err;
    qh_gpu_counters *c = qc_xcalloc(1, sizeof *c);
    c->n = n;
    c->c = qc_xcalloc((size_t)(n > 0 ? n : 1), sizeof *c->c);
    for (int i = 0; i < n; i++) {
        c->c[i].name = metrics[i];
        c->c[i].reason = "qbench was built without CUDA (CUPTI is part of the CUDA toolkit)";
    }
    *out = c;
    return QC_OK;
}

int qh_gpu_counters_begin(qh_gpu_counters *c) { return (void)c, QC_OK; }
int qh_gpu_counters_end(qh_gpu_counters *c) { return (void)c, QC_OK; }
int qh_gpu_counters_count(const qh_gpu_counters *c) { return c ? c->n : 0; }
const qh_counter *qh_gpu_counters_get(const qh_gpu_counters *c, int i) { return c && i >= 0 && i < c->n ? &c->c[i] : NULL; }

void qh_gpu_counters_destroy(qh_gpu_counters *c)
{
    if (c)
        free(c->c);
    free(c);
}
