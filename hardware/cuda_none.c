/* Built without the CUDA backend: there are no CUDA devices to report. */
#include <stdio.h>
#include <string.h>

#include "hardware/hardware.h"

int qh_cuda_discover(qh_cuda *out)
{
    if (qh_cuda_fake(out))
        return QC_OK;
    memset(out, 0, sizeof *out);
    snprintf(out->reason, sizeof out->reason,
             "no CUDA device: qbench was built without CUDA (rebuild with nvcc on PATH and QBENCH_CUDA=AUTO or ON)");
    return QC_OK;
}
