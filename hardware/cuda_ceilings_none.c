/* Built without CUDA: no GPU ceilings. */
#include "hardware/cuda_ceilings.h"

static int none(qc_msgs *err)
{
    qc_msgs_addf(err, "qbench was built without CUDA (rebuild with nvcc on PATH and QBENCH_CUDA=AUTO or ON)");
    return QC_ERUNTIME;
}

int qh_cuda_copy_bandwidth(int device, size_t bytes, double min_time, qh_rate *out, qc_msgs *err)
{
    return (void)device, (void)bytes, (void)min_time, (void)out, none(err);
}

int qh_cuda_read_bandwidth(int device, size_t bytes, double min_time, qh_rate *out, qc_msgs *err)
{
    return (void)device, (void)bytes, (void)min_time, (void)out, none(err);
}

size_t qh_cuda_l2_size(int device) { return (void)device, 0; }

int qh_cuda_tensor_peak(int device, const char *format, int size, double min_time, qh_rate *out, qc_msgs *err)
{
    return (void)device, (void)format, (void)size, (void)min_time, (void)out, none(err);
}
