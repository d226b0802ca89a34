/* kernels/ internals shared by the quantizers, the generic and the SIMD kernels. */
#ifndef QBENCH_KERNELS_INTERNAL_H
#define QBENCH_KERNELS_INTERNAL_H

#include "kernels/qk.h"

/* fp8 activations: returns s = absmax/448 and sets *inv = 448/absmax (0 for an all-zero X). */
float qk_fp8_act_scale(const uint16_t *x, size_t count, float *inv);

static inline int qk_groups(const qk_problem *p) { return p->k / qk_problem_group(p); }
static inline int qk_k4(const qk_problem *p) { return (p->k + 3) / 4; }

/* Bytes of one panel's packed values. */
static inline size_t qk_panel_bytes(const qk_problem *p)
{
    switch (p->scheme) {
    case QK_FP16: return (size_t)p->k * QK_NR * 2;
    case QK_W4A16:
    case QK_W4A8: return (size_t)p->k * QK_NR / 2;
    case QK_W8A8: return (size_t)qk_k4(p) * 4 * QK_NR;
    default: return (size_t)p->k * QK_NR; /* w8a16, fp8 */
    }
}

/* The int4 value of channel c (0..15), k of a panel (the layout in qk.h). */
static inline int qk_int4_at(const uint8_t *pb, int c, int k)
{
    return (pb[((size_t)(k / 8) * QK_NR + c) * 4 + k % 4] >> (k % 8 < 4 ? 0 : 4)) & 15;
}

static inline const uint8_t *qk_panel(const qk_weights *w, int panel)
{
    return (const uint8_t *)w->q + (size_t)panel * qk_panel_bytes(&w->p);
}

/* Per-channel output factor of the float schemes (1 when none). */
static inline float qk_channel_scale(const qk_weights *w, int n)
{
    if (w->cscale)
        return w->cscale[n];
    return w->p.scheme == QK_FP8 ? w->tscale : 1.0f;
}

/* Micro-kernels of the integer schemes, per row count MR = 1..4 (index MR), driven by one
 * blocked loop (kernels/x86/gemm_avx2.c). w8a8: C[MR][16] int32 += A·B over kl k (a
 * multiple of 4); w4a8: C[MR][16] fp32 += groups of A·(B − z)·s over kl k (whole groups). */
typedef void (*qk_ukr_w8a8)(int kl, const int8_t *A, int lda, const int8_t *B, int32_t *C, int ldc);
typedef void (*qk_ukr_w4a8)(int kl, const int8_t *A, int lda, const uint8_t *B, float *C, int ldc,
                            const qk_weights *w, size_t gat, int g, const int32_t *gsum, int G);
typedef struct qk_int_ukrs {
    qk_ukr_w8a8 w8a8[5];
    qk_ukr_w4a8 w4a8[5];
    int w8a8_offset; /* w8a8 takes activations + 128 (u8) and subtracts 128·Σw per channel */
} qk_int_ukrs;
void qk_run_int_blocked(const qk_run_args *a, const qk_int_ukrs *u);
void qk_run_int_vnni(const qk_run_args *a);

/* Kernel entry points, one per scheme family and ISA. */
void qk_run_float_generic(const qk_run_args *a);
void qk_run_int_generic(const qk_run_args *a);
void qk_run_float_avx2(const qk_run_args *a);
void qk_run_int_avx2(const qk_run_args *a);
size_t qk_work_float(const qk_problem *p, const qk_config *cfg);
void qk_run_w4a16_bf16(const qk_run_args *a);
size_t qk_work_w4a16_bf16(const qk_problem *p, const qk_config *cfg);
size_t qk_work_int(const qk_problem *p, const qk_config *cfg);

/* Parameter indices shared by every CPU kernel (the registry lists them in this order). */
enum { QK_P_THREADS, QK_P_MR, QK_P_KC, QK_P_NC, QK_P_PREDEQUANT };
/* CUDA kernels' parameters: weight-only (tile, stages, split-K), cuBLASLt (the heuristic's
 * algorithm rank, split-K, CTA swizzle), w4a8 (threads per block). */
enum { QK_CUDA_P_TILE, QK_CUDA_P_STAGES, QK_CUDA_P_SPLITK };
enum { QK_CUDA_P_ALGO, QK_CUDA_P_LT_SPLITK, QK_CUDA_P_SWIZZLE };
enum { QK_CUDA_P_BLOCK };

/* Shared by the generic and SIMD kernels (kernels/cpu/gemm_generic.c). */
float qk_float_activations(const qk_problem *p, const uint16_t *x, int m, float *xf);
void qk_store_row(const qk_problem *p, void *y, int r, int n0, const float *v, int count);
/* X quantized per token: q [M][K4*4] (zero-padded), scale s [M], per-group sums gsum [M][G]
 * (all carved from work); rest points past them, 64-byte aligned. */
typedef struct qk_int_act {
    int8_t *q;
    float *s;
    int32_t *gsum;
    void *rest;
} qk_int_act;
qk_int_act qk_int_activations(const qk_problem *p, const uint16_t *x, int m, int threads, void *work);
static inline size_t qk_align64(size_t n) { return (n + 63) & ~(size_t)63; }

#endif
