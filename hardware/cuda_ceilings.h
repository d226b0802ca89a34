/* hardware/ GPU ceilings: device-to-device copy bandwidth (HBM), L2 bandwidth (a read kernel
 * over a working set inside the L2), and tensor throughput per number format (fp16, int8,
 * fp8) from large cuBLASLt products. Built without CUDA, each says so. */
#ifndef QBENCH_HARDWARE_CUDA_CEILINGS_H
#define QBENCH_HARDWARE_CUDA_CEILINGS_H

#include "common/qc.h"
#include "hardware/ceilings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GB/s of bytes read plus written by cudaMemcpy device-to-device of `bytes`. */
int qh_cuda_copy_bandwidth(int device, size_t bytes, double min_time, qh_rate *out, qc_msgs *err);
/* GB/s read by a kernel streaming `bytes` (L2-resident when under the L2 size: passes repeat
 * it until a repetition moves at least 1 GB). */
int qh_cuda_read_bandwidth(int device, size_t bytes, double min_time, qh_rate *out, qc_msgs *err);
/* The device's L2 size in bytes (0 when unknown). */
size_t qh_cuda_l2_size(int device);
/* TOP/s... as GOP/s of a size³ product: format "fp16_tensor", "int8_tensor" or "fp8_tensor". */
int qh_cuda_tensor_peak(int device, const char *format, int size, double min_time, qh_rate *out, qc_msgs *err);

#ifdef __cplusplus
}
#endif

#endif
