/* Generic C micro-kernels: the correctness baseline and the fallback on CPUs without AVX2.
 * Float schemes take the large-M path only (weights dequantized exactly to fp32 per K block,
 * then a plain mr × NR product); integer schemes accumulate int8 products in int32 and take
 * zero points off in integers, exactly. */
#include "kernels/internal.h"

enum { NR = 16, MR_LARGE = 4, MR_INT = 4 };

/* ------------------------------------------------------------------ float schemes */

static void decode(const qk_weights *w, int panel, int kb, int kl, float *B, int ldb)
{
    const qk_problem *p = &w->p;
    const uint8_t *pb = qk_panel(w, panel);
    const int g = qk_problem_group(p), G = qk_groups(p);
    for (int k = kb; k < kb + kl; k++)
        for (int c = 0; c < NR; c++) {
            int n = panel * NR + c;
            float v;
            switch (p->scheme) {
            case QK_FP16: v = qk_half_to_float(((const uint16_t *)pb)[(size_t)k * NR + c]); break;
            case QK_BF16: v = qk_bf16_to_float(((const uint16_t *)pb)[((size_t)(k / 2) * NR + c) * 2 + k % 2]); break;
            case QK_W8A16: v = ((const int8_t *)pb)[(size_t)k * NR + c]; break;
            case QK_FP8: v = qk_e4m3_to_float(pb[(size_t)k * NR + c]); break;
            default: { /* w4a16 */
                size_t at = ((size_t)panel * G + k / g) * NR + c;
                float q = (float)qk_int4_at(pb, NR, c, k);
                v = (q - (w->gzero ? w->gzero[at] : 8.0f)) * qk_half_to_float(w->gscale[at]);
            }
            }
            if (p->scheme != QK_W4A16 && p->scheme != QK_FP16 && p->scheme != QK_BF16)
                v *= n < p->n ? qk_channel_scale(w, n) : 0.0f;
            B[(size_t)(k - kb) * ldb + c] = v;
        }
}

static void gemm(int mr, int kl, const float *A, const float *B, int ldb, float *C, int ldc)
{
    for (int r = 0; r < mr; r++) {
        float acc[NR];
        for (int c = 0; c < NR; c++)
            acc[c] = C[(size_t)r * ldc + c];
        for (int k = 0; k < kl; k++) {
            float a = A[(size_t)k * MR_LARGE + r];
            for (int c = 0; c < NR; c++)
                acc[c] += a * B[(size_t)k * ldb + c];
        }
        for (int c = 0; c < NR; c++)
            C[(size_t)r * ldc + c] = acc[c];
    }
}

#define GEMM(MR)                                                                                                  \
    static void gemm_##MR(int kl, const float *A, const float *B, int ldb, float *C, int ldc)                     \
    {                                                                                                             \
        gemm(MR, kl, A, B, ldb, C, ldc);                                                                          \
    }
GEMM(1) GEMM(2) GEMM(3) GEMM(4)

const qk_float_large qk_large_generic = {
    .nr = NR,
    .mr = MR_LARGE,
    .kc = 256,
    .nc = 64,
    .format = "fp32_fma",
    .decode = {[QK_FP16] = decode, [QK_W8A16] = decode, [QK_W4A16] = decode, [QK_FP8] = decode, [QK_BF16] = decode},
    .gemm = {NULL, gemm_1, gemm_2, gemm_3, gemm_4},
    .store = qk_store_generic,
};

/* ------------------------------------------------------------------ integer schemes */

static void w8a8(int mr, int kl, const int8_t *A, int lda, const int8_t *B, int32_t *C, int ldc)
{
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < NR; c++) {
            int32_t acc = 0;
            for (int k = 0; k < kl; k++)
                acc += A[(size_t)r * lda + k] * B[((size_t)(k / 4) * NR + c) * 4 + k % 4];
            C[(size_t)r * ldc + c] += acc;
        }
}

static void w4a8(int mr, int kl, const int8_t *A, int lda, const uint8_t *B, float *C, int ldc, const qk_weights *w,
                 size_t gat, int g, const int32_t *gsum, int G)
{
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < NR; c++) {
            float y = 0;
            for (int gi = 0; gi < kl / g; gi++) {
                int32_t acc = 0;
                for (int k = gi * g; k < (gi + 1) * g; k++)
                    acc += A[(size_t)r * lda + k] * qk_int4_at(B, NR, c, k);
                size_t at = gat + (size_t)gi * NR + c;
                int32_t z = w->gzero ? w->gzero[at] : 8;
                y += (float)(acc - z * gsum[(size_t)r * G + gi]) * qk_half_to_float(w->gscale[at]);
            }
            C[(size_t)r * ldc + c] += y;
        }
}

#define INT_UKR(MR)                                                                                               \
    static void w8a8_##MR(int kl, const int8_t *A, int lda, const int8_t *B, int32_t *C, int ldc)                \
    {                                                                                                             \
        w8a8(MR, kl, A, lda, B, C, ldc);                                                                          \
    }                                                                                                             \
    static void w4a8_##MR(int kl, const int8_t *A, int lda, const uint8_t *B, float *C, int ldc,                  \
                          const qk_weights *w, size_t gat, int g, const int32_t *gsum, int G)                     \
    {                                                                                                             \
        w4a8(MR, kl, A, lda, B, C, ldc, w, gat, g, gsum, G);                                                      \
    }
INT_UKR(1) INT_UKR(2) INT_UKR(3) INT_UKR(4)

const qk_ukr_int qk_int_generic = {
    .nr = NR,
    .mr_max = MR_INT,
    .kc = 512,
    .nc = 64,
    .format = "int8_dot",
    .w8a8 = {NULL, w8a8_1, w8a8_2, w8a8_3, w8a8_4},
    .w4a8 = {NULL, w4a8_1, w4a8_2, w4a8_3, w4a8_4},
    .store = qk_store_generic,
    .store_s32 = qk_store_s32_generic,
};
