// A 16-bit activation or output element on the device, as fp32 and back: fp16, or bf16
// (--act bf16). Shared by the CUDA kernels (wonly.cu, quant.cu).
#ifndef QBENCH_KERNELS_CUDA_X16_CUH
#define QBENCH_KERNELS_CUDA_X16_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stddef.h>

__device__ __forceinline__ float qk_x16_in(const __half v) { return __half2float(v); }
__device__ __forceinline__ float qk_x16_in(const __nv_bfloat16 v) { return __bfloat162float(v); }

// y[i] = v rounded to nearest even in the 16-bit type (bf16 when bf16, else fp16)
__device__ __forceinline__ void qk_x16_store(void *y, size_t i, float v, bool bf16) {
    if (bf16)
        reinterpret_cast<__nv_bfloat16 *>(y)[i] = __float2bfloat16_rn(v);
    else
        reinterpret_cast<__half *>(y)[i] = __float2half_rn(v);
}

#endif
