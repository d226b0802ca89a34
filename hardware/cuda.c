/* CUDA devices through the CUDA runtime (built only with the CUDA backend). No driver or
 * no GPU is a normal answer: n = 0 and the runtime's reason. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <string.h>

#include "hardware/hardware.h"

int qh_cuda_discover(qh_cuda *out)
{
    if (qh_cuda_fake(out))
        return QC_OK;
    memset(out, 0, sizeof *out);
    out->built = 1;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        snprintf(out->reason, sizeof out->reason, "no CUDA device: %s (%s)",
                 e == cudaSuccess ? "no CUDA-capable device is detected" : cudaGetErrorString(e),
                 e == cudaSuccess ? "cudaSuccess" : cudaGetErrorName(e));
        return QC_OK;
    }
    for (int i = 0; i < n && out->n < QH_MAX_CUDA_DEVICES; i++) {
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess)
            continue;
        qh_cuda_device *d = &out->dev[out->n++];
        d->index = i;
        snprintf(d->name, sizeof d->name, "%s", p.name);
        d->cc_major = p.major;
        d->cc_minor = p.minor;
        d->sms = p.multiProcessorCount;
        d->memory = p.totalGlobalMem;
        d->l2_size = (uint64_t)p.l2CacheSize;
        d->bus_width = p.memoryBusWidth;
        cudaDeviceGetAttribute(&d->clock_khz, cudaDevAttrClockRate, i);
        cudaDeviceGetAttribute(&d->mem_clock_khz, cudaDevAttrMemoryClockRate, i);
        d->bandwidth_gbs = 2.0 * d->mem_clock_khz * 1e3 * (d->bus_width / 8.0) / 1e9;
    }
    if (out->n == 0)
        snprintf(out->reason, sizeof out->reason, "no CUDA device: properties could not be read");
    return QC_OK;
}
