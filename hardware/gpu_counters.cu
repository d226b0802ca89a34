/* GPU counters through CUPTI's Range Profiler + Profiler Host API. Compiled by nvcc: CUDA 13's
 * cupti_profiler_host.h includes C++ headers, so this wrapper cannot be plain C. */
#include <cupti_profiler_host.h>
#include <cupti_profiler_target.h>
#include <cupti_range_profiler.h>
#include <cupti_target.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "hardware/gpu_counters.h"
}

extern "C" const char *const qh_gpu_metrics[] = {"dram__bytes_read.sum", "dram__bytes_write.sum", "lts__t_bytes.sum",
                                      "sm__inst_executed_pipe_tensor.sum", "gpu__time_duration.sum"};
extern "C" const int qh_n_gpu_metrics = sizeof qh_gpu_metrics / sizeof qh_gpu_metrics[0];

enum { MAX_RANGES = 64 };

struct qh_gpu_counters {
    int n, n_ok;
    qh_counter *c;
    char **names, **reasons;
    const char **ok_names; /* the metrics that could be configured */
    int *ok_index;
    CUpti_Profiler_Host_Object *host;
    CUpti_RangeProfiler_Object *rp;
    uint8_t *config, *counter_data, *availability;
    size_t config_size, counter_data_size;
    int started;
};

static const char *why(CUptiResult r, char *buf, size_t len)
{
    const char *s = "";
    cuptiGetResultString(r, &s);
    if (r == CUPTI_ERROR_INSUFFICIENT_PRIVILEGES)
        snprintf(buf, len, "ERR_NVGPUCTRPERM: GPU performance counters are restricted to administrators (run as root, "
                           "or load the driver with NVreg_RestrictProfilingToAdminUsers=0)");
    else
        snprintf(buf, len, "CUPTI: %s (%d)", s, (int)r);
    return buf;
}

static void all_unavailable(qh_gpu_counters *c, const char *reason)
{
    for (int i = 0; i < c->n; i++)
        if (c->c[i].available || !c->reasons[i]) {
            free(c->reasons[i]);
            c->reasons[i] = qc_strdup(reason);
            c->c[i].available = 0;
            c->c[i].reason = c->reasons[i];
        }
    c->n_ok = 0;
}

/* The current context, from the driver the CUDA runtime has already loaded (qbench does not link
 * libcuda, so that it starts on machines without one). */
static CUcontext current_context(void)
{
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    CUcontext ctx = NULL;
    if (lib) {
        int (*get)(CUcontext *) = reinterpret_cast<int (*)(CUcontext *)>(dlsym(lib, "cuCtxGetCurrent"));
        if (get)
            get(&ctx);
        dlclose(lib);
    }
    return ctx;
}

extern "C" int qh_gpu_counters_create(qh_gpu_counters **out, int device, const char *const *metrics, int n, qc_msgs *err)
{
    *out = NULL;
    if (n <= 0) {
        qc_msgs_addf(err, "GPU counters: no metrics requested");
        return QC_EINPUT;
    }
    qh_gpu_counters *c = (qh_gpu_counters *)qc_xcalloc(1, sizeof *c);
    c->n = n;
    c->c = (qh_counter *)qc_xcalloc((size_t)n, sizeof *c->c);
    c->names = (char **)qc_xcalloc((size_t)n, sizeof *c->names);
    c->reasons = (char **)qc_xcalloc((size_t)n, sizeof *c->reasons);
    c->ok_names = (const char **)qc_xcalloc((size_t)n, sizeof *c->ok_names);
    c->ok_index = (int *)qc_xcalloc((size_t)n, sizeof *c->ok_index);
    for (int i = 0; i < n; i++) {
        c->names[i] = qc_strdup(metrics[i]);
        c->c[i].name = c->names[i];
    }
    *out = c;
    char buf[512];
    int devices = 0;
    cudaError_t ce = cudaGetDeviceCount(&devices);
    if (ce != cudaSuccess || devices <= device) { /* say that, not CUPTI's "unknown error" */
        snprintf(buf, sizeof buf, "no CUDA device: %s", ce == cudaSuccess ? "none at this index" : cudaGetErrorString(ce));
        all_unavailable(c, buf);
        return QC_OK;
    }
    CUptiResult r;
    CUpti_Profiler_Initialize_Params init = {CUpti_Profiler_Initialize_Params_STRUCT_SIZE, NULL};
    if ((r = cuptiProfilerInitialize(&init)) != CUPTI_SUCCESS) {
        all_unavailable(c, why(r, buf, sizeof buf));
        return QC_OK;
    }
    CUpti_Device_GetChipName_Params chip = {CUpti_Device_GetChipName_Params_STRUCT_SIZE, NULL, (size_t)device, NULL};
    CUcontext ctx = current_context();
    CUpti_Profiler_GetCounterAvailability_Params av = {CUpti_Profiler_GetCounterAvailability_Params_STRUCT_SIZE, NULL,
                                                       ctx, 0, NULL};
    if ((r = cuptiDeviceGetChipName(&chip)) != CUPTI_SUCCESS || (r = cuptiProfilerGetCounterAvailability(&av)) != CUPTI_SUCCESS) {
        all_unavailable(c, why(r, buf, sizeof buf));
        return QC_OK;
    }
    c->availability = (uint8_t *)qc_xcalloc(av.counterAvailabilityImageSize, 1);
    av.pCounterAvailabilityImage = c->availability;
    CUpti_Profiler_Host_Initialize_Params hi = {CUpti_Profiler_Host_Initialize_Params_STRUCT_SIZE, NULL,
                                                CUPTI_PROFILER_TYPE_RANGE_PROFILER, chip.pChipName, NULL, NULL};
    if ((r = cuptiProfilerGetCounterAvailability(&av)) != CUPTI_SUCCESS) {
        all_unavailable(c, why(r, buf, sizeof buf));
        return QC_OK;
    }
    hi.pCounterAvailabilityImage = c->availability;
    if ((r = cuptiProfilerHostInitialize(&hi)) != CUPTI_SUCCESS) {
        all_unavailable(c, why(r, buf, sizeof buf));
        return QC_OK;
    }
    c->host = hi.pHostObject;
    /* one metric at a time: an unsupported name says so alone */
    for (int i = 0; i < n; i++) {
        const char *one[1] = {c->names[i]};
        CUpti_Profiler_Host_ConfigAddMetrics_Params add = {CUpti_Profiler_Host_ConfigAddMetrics_Params_STRUCT_SIZE,
                                                           NULL, c->host, one, 1};
        if ((r = cuptiProfilerHostConfigAddMetrics(&add)) != CUPTI_SUCCESS) {
            snprintf(buf, sizeof buf, "this device has no metric %s (%s)", c->names[i], why(r, buf + 256, 256));
            c->reasons[i] = qc_strdup(buf);
            c->c[i].reason = c->reasons[i];
            continue;
        }
        c->c[i].available = 1;
        c->ok_index[c->n_ok] = i;
        c->ok_names[c->n_ok++] = c->names[i];
    }
    if (!c->n_ok)
        return QC_OK;
    CUpti_Profiler_Host_GetConfigImageSize_Params cs = {CUpti_Profiler_Host_GetConfigImageSize_Params_STRUCT_SIZE,
                                                        NULL, c->host, 0};
    CUpti_RangeProfiler_Enable_Params en = {CUpti_RangeProfiler_Enable_Params_STRUCT_SIZE, NULL, ctx, NULL};
    if ((r = cuptiProfilerHostGetConfigImageSize(&cs)) != CUPTI_SUCCESS) {
        all_unavailable(c, why(r, buf, sizeof buf));
        return QC_OK;
    }
    c->config_size = cs.configImageSize;
    c->config = (uint8_t *)qc_xcalloc(c->config_size, 1);
    CUpti_Profiler_Host_GetConfigImage_Params ci = {CUpti_Profiler_Host_GetConfigImage_Params_STRUCT_SIZE, NULL,
                                                    c->host, c->config_size, c->config};
    if ((r = cuptiProfilerHostGetConfigImage(&ci)) != CUPTI_SUCCESS || (r = cuptiRangeProfilerEnable(&en)) != CUPTI_SUCCESS) {
        all_unavailable(c, why(r, buf, sizeof buf));
        return QC_OK;
    }
    c->rp = en.pRangeProfilerObject;
    CUpti_RangeProfiler_GetCounterDataSize_Params ds = {CUpti_RangeProfiler_GetCounterDataSize_Params_STRUCT_SIZE,
                                                        NULL, c->rp, c->ok_names, (size_t)c->n_ok, MAX_RANGES,
                                                        MAX_RANGES, 0};
    if ((r = cuptiRangeProfilerGetCounterDataSize(&ds)) != CUPTI_SUCCESS) {
        all_unavailable(c, why(r, buf, sizeof buf));
        return QC_OK;
    }
    c->counter_data_size = ds.counterDataSize;
    c->counter_data = (uint8_t *)qc_xcalloc(c->counter_data_size, 1);
    CUpti_RangeProfiler_CounterDataImage_Initialize_Params di = {
        CUpti_RangeProfiler_CounterDataImage_Initialize_Params_STRUCT_SIZE, NULL, c->rp, c->counter_data_size,
        c->counter_data};
    CUpti_RangeProfiler_SetConfig_Params sc = {CUpti_RangeProfiler_SetConfig_Params_STRUCT_SIZE, NULL, c->rp,
                                               c->config_size, c->config, c->counter_data_size, c->counter_data,
                                               CUPTI_AutoRange, CUPTI_KernelReplay, MAX_RANGES, 1, 1, 0, 1};
    if ((r = cuptiRangeProfilerCounterDataImageInitialize(&di)) != CUPTI_SUCCESS ||
        (r = cuptiRangeProfilerSetConfig(&sc)) != CUPTI_SUCCESS)
        all_unavailable(c, why(r, buf, sizeof buf));
    return QC_OK;
}

extern "C" int qh_gpu_counters_begin(qh_gpu_counters *c)
{
    if (!c || !c->n_ok)
        return QC_OK;
    char buf[512];
    CUpti_RangeProfiler_Start_Params st = {CUpti_RangeProfiler_Start_Params_STRUCT_SIZE, NULL, c->rp};
    CUptiResult r = cuptiRangeProfilerStart(&st);
    if (r != CUPTI_SUCCESS)
        all_unavailable(c, why(r, buf, sizeof buf));
    c->started = r == CUPTI_SUCCESS;
    return QC_OK;
}

extern "C" int qh_gpu_counters_end(qh_gpu_counters *c)
{
    if (!c || !c->n_ok || !c->started)
        return QC_OK;
    c->started = 0;
    char buf[512];
    CUptiResult r;
    CUpti_RangeProfiler_Stop_Params sp = {CUpti_RangeProfiler_Stop_Params_STRUCT_SIZE, NULL, c->rp, 0, 0, 0};
    CUpti_RangeProfiler_DecodeData_Params dd = {CUpti_RangeProfiler_DecodeData_Params_STRUCT_SIZE, NULL, c->rp, 0};
    CUpti_RangeProfiler_GetCounterDataInfo_Params info = {CUpti_RangeProfiler_GetCounterDataInfo_Params_STRUCT_SIZE,
                                                           NULL, c->counter_data, c->counter_data_size, 0};
    if ((r = cuptiRangeProfilerStop(&sp)) != CUPTI_SUCCESS || (r = cuptiRangeProfilerDecodeData(&dd)) != CUPTI_SUCCESS ||
        (r = cuptiRangeProfilerGetCounterDataInfo(&info)) != CUPTI_SUCCESS) {
        all_unavailable(c, why(r, buf, sizeof buf));
        return QC_OK;
    }
    double *vals = (double *)qc_xcalloc((size_t)c->n_ok, sizeof *vals), *sum = (double *)qc_xcalloc((size_t)c->n_ok, sizeof *sum);
    for (size_t range = 0; range < info.numTotalRanges; range++) { /* one range per kernel: sum them */
        CUpti_Profiler_Host_EvaluateToGpuValues_Params ev = {
            CUpti_Profiler_Host_EvaluateToGpuValues_Params_STRUCT_SIZE, NULL, c->host, c->counter_data,
            c->counter_data_size, range, c->ok_names, (size_t)c->n_ok, vals};
        if ((r = cuptiProfilerHostEvaluateToGpuValues(&ev)) != CUPTI_SUCCESS) {
            all_unavailable(c, why(r, buf, sizeof buf));
            break;
        }
        for (int i = 0; i < c->n_ok; i++)
            sum[i] += vals[i];
    }
    for (int i = 0; i < c->n_ok; i++)
        c->c[c->ok_index[i]].value = (long long)(sum[i] + 0.5);
    /* ready for the next range */
    CUpti_RangeProfiler_CounterDataImage_Initialize_Params di = {
        CUpti_RangeProfiler_CounterDataImage_Initialize_Params_STRUCT_SIZE, NULL, c->rp, c->counter_data_size,
        c->counter_data};
    cuptiRangeProfilerCounterDataImageInitialize(&di);
    free(vals);
    free(sum);
    return QC_OK;
}

extern "C" int qh_gpu_counters_count(const qh_gpu_counters *c) { return c ? c->n : 0; }

extern "C" const qh_counter *qh_gpu_counters_get(const qh_gpu_counters *c, int i) { return c && i >= 0 && i < c->n ? &c->c[i] : NULL; }

extern "C" void qh_gpu_counters_destroy(qh_gpu_counters *c)
{
    if (!c)
        return;
    if (c->rp) {
        CUpti_RangeProfiler_Disable_Params d = {CUpti_RangeProfiler_Disable_Params_STRUCT_SIZE, NULL, c->rp};
        cuptiRangeProfilerDisable(&d);
    }
    if (c->host) {
        CUpti_Profiler_Host_Deinitialize_Params d = {CUpti_Profiler_Host_Deinitialize_Params_STRUCT_SIZE, NULL, c->host};
        cuptiProfilerHostDeinitialize(&d);
    }
    for (int i = 0; i < c->n; i++) {
        free(c->names[i]);
        free(c->reasons[i]);
    }
    free(c->names), free(c->reasons), free(c->ok_names), free(c->ok_index), free(c->c);
    free(c->config), free(c->counter_data), free(c->availability);
    free(c);
}
