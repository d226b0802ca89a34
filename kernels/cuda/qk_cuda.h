/* kernels/cuda: the CUDA backend's kernels (internal to kernels/; the registry lists them).
 * Layouts: QK_LAYOUT_CUDA in kernels/qk.h. Every CUDA call's status is checked; a failure is
 * kept as the thread's last error (qk_cuda_error) and the kernel returns without launching
 * more work. Buffers in qk_run_args are device memory; a->stream is the cudaStream_t. */
#ifndef QBENCH_KERNELS_CUDA_QK_CUDA_H
#define QBENCH_KERNELS_CUDA_QK_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/qk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Is a CUDA device usable here? When not, *why says why (no driver, no device, built without). */
int qk_cuda_available(char *why, size_t len);
/* The message of the last failure in this thread (empty when none), cleared by reading it. */
int qk_cuda_error(char *buf, size_t len);
void qk_cuda_set_error(const char *fmt, ...);

/* ---- kernels (host launchers) ---- */
/* w4a16 / w8a16: tensor-core mma (m16n8k16, fp16 in, fp32 accumulate), weights dequantized in
 * registers, a cp.async pipeline of `stages` shared-memory stages, split-K into fp32 partials.
 * tile: 0 = 16×128 (4 warps), 1 = 32×128 (4 warps), 2 = 64×128 (8 warps), 3 = 128×128 (8 warps). */
void qk_cuda_wonly(const qk_run_args *a);
size_t qk_cuda_wonly_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg);
/* w8a8, fp16, fp8 through cuBLASLt (its algorithm space is the configuration). */
void qk_cuda_lt(const qk_run_args *a);
size_t qk_cuda_lt_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg);
/* w4a8: int4 weights × per-token int8 activations, dp4a on CUDA cores. */
void qk_cuda_w4a8(const qk_run_args *a);
size_t qk_cuda_w4a8_work(const qk_kernel *k, const qk_problem *p, const qk_config *cfg);

/* ---- pieces shared by the launchers (kernels/cuda/quant.cu) ---- */
/* X (fp16, or bf16 when bf16; M×K) → int8 per token: q [M][K], scale [M], per-group sums [M][K/g]
 * (g = group or K). */
void qk_cuda_quantize_rows(const uint16_t *x, int bf16, int m, int k, int group, int8_t *q, float *scale,
                           int32_t *gsum, void *stream);
/* X (fp16 or bf16) → e4m3 with one dynamic scale: amax (device float, scratch) and then the
 * values; scale = amax/448. */
void qk_cuda_quantize_fp8(const uint16_t *x, int bf16, size_t count, uint8_t *q, float *amax, float *scale,
                          void *stream);
/* y = acc · row_scale[m] · col_scale[n] (int32 or fp32 accumulators) → fp32, or the 16-bit type
 * of the activations (bf16 when bf16, else fp16). */
void qk_cuda_epilogue(const void *acc, int acc_int, const float *row_scale, const float *col_scale, float scalar,
                      int m, int n, void *y, int out_f32, int bf16, void *stream);

#ifdef __cplusplus
}
#endif

#endif
