/* AVX2 + FMA + F16C micro-kernels (NR = 16 channels: two ymm), compiled per function with
 * target attributes and chosen at run time from CPUID (the registry's `needs`). The loops
 * around them are kernels/cpu/loop_float.c and loop_int.c; the layouts are in kernels/qk.h.
 *
 * Float schemes (fp16, w8a16, w4a16, fp8):
 *  - small M: each panel row is decoded in registers to its raw values (fp8 as e4m3/256; int4
 *    exactly as q − z, by placing the nibble in the mantissa of 2^23 and subtracting 2^23 + z,
 *    which needs no int→float conversion) and multiplied with MR broadcast rows of X; group
 *    scales are applied once per group.
 *  - large M: decode dequantizes a K block exactly to fp32; a 6×16 register-tiled fp32
 *    micro-kernel runs over it.
 * Integer schemes (w8a8, w4a8): int8 dot products go through vpmaddubsw + vpmaddwd (w8a8 with
 * the sign trick: |w| · sign(x, w), which cannot saturate; w4a8 with unsigned nibbles, zero
 * points subtracted per group). */
#include <immintrin.h>
#include <string.h>

#include "kernels/internal.h"

enum { NR = 16 };

#define TGT __attribute__((target("avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c")))
#define UNROLL _Pragma("GCC unroll 16")

/* ------------------------------------------------------------------ float schemes */

/* Raw values of panel row k: channels n0..7 in *v0, n8..15 in *v1. */
INLINE void decode_raw(qk_scheme s, const uint8_t *pb, int k, __m256 *v0, __m256 *v1)
{
    if (s == QK_FP16) {
        const __m128i *h = (const __m128i *)(pb + (size_t)k * 32);
        *v0 = _mm256_cvtph_ps(_mm_loadu_si128(h));
        *v1 = _mm256_cvtph_ps(_mm_loadu_si128(h + 1));
    } else if (s == QK_W8A16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(pb + (size_t)k * 16));
        *v0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
        *v1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8)));
    } else if (s == QK_W4A16) { /* nibble j of the octet's words: bits 8j (j < 4) or 8(j−4)+4 */
        const __m256i *o = (const __m256i *)(pb + (size_t)(k / 8) * 64);
        int j = k % 8, sh = j < 4 ? 8 * j : 8 * (j - 4) + 4;
        __m128i cnt = _mm_cvtsi32_si128(sh);
        __m256i m = _mm256_set1_epi32(15);
        *v0 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srl_epi32(_mm256_loadu_si256(o), cnt), m));
        *v1 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srl_epi32(_mm256_loadu_si256(o + 1), cnt), m));
    } else { /* fp8 e4m3 → the fp16 with the same bits shifted: exactly e4m3/256 */
        __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(pb + (size_t)k * 16)));
        __m256i h = _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi16(b, 8), _mm256_set1_epi16((short)0x8000)),
                                    _mm256_and_si256(_mm256_slli_epi16(b, 7), _mm256_set1_epi16(0x3f80)));
        *v0 = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
        *v1 = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
    }
}

/* Nibble j (0..7) of every 32-bit lane as the float 2^23 + q: the nibble sits in the low bits of
 * the mantissa of 2^23, so no int→float conversion is needed, and subtracting 2^23 + z gives
 * q − z exactly. */
INLINE __m256 nibble_magic(__m256i w, int j)
{
    const int bit = j < 4 ? 8 * j : 8 * (j - 4) + 4;
    __m256i t = bit ? _mm256_srli_epi32(w, bit) : w;
    return _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(t, _mm256_set1_epi32(15)), _mm256_set1_epi32(0x4b000000)));
}

/* 2^23 + z of a w4a16 group for the 16 channels of a panel (z = 8 when symmetric). */
INLINE void group_zmagic(const qk_weights *w, size_t at, __m256 *zm0, __m256 *zm1)
{
    __m256i z0 = _mm256_set1_epi32(8), z1 = z0;
    if (w->gzero) {
        __m128i z = _mm_loadu_si128((const __m128i *)(w->gzero + at));
        z0 = _mm256_cvtepu8_epi32(z);
        z1 = _mm256_cvtepu8_epi32(_mm_srli_si128(z, 8));
    }
    *zm0 = _mm256_castsi256_ps(_mm256_or_si256(z0, _mm256_set1_epi32(0x4b000000)));
    *zm1 = _mm256_castsi256_ps(_mm256_or_si256(z1, _mm256_set1_epi32(0x4b000000)));
}

/* Group scale and m = −z·s of a w4a16 group for the 16 channels of a panel. */
INLINE void group_sm(const qk_weights *w, size_t at, __m256 *s0, __m256 *s1, __m256 *m0, __m256 *m1)
{
    *s0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w->gscale + at)));
    *s1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w->gscale + at + 8)));
    __m256 z0 = _mm256_set1_ps(8.0f), z1 = z0;
    if (w->gzero) {
        __m128i z = _mm_loadu_si128((const __m128i *)(w->gzero + at));
        z0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(z));
        z1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(z, 8)));
    }
    *m0 = _mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), z0), *s0);
    *m1 = _mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), z1), *s1);
}

/* Small M: rows r0..r0+MR-1 of X against one panel over [k0, k1); y += MR×16 unscaled sums. */
INLINE void direct_panel(qk_scheme S, int MR, const qk_weights *w, int panel, const qk_xf *xv, int r0, float *y)
{
    const int K = xv->k, G = xv->G;
    const float *x = xv->x + (size_t)r0 * K;
    enum { U_MAX = 4 };
    const int U = MR == 1 ? 4 : MR == 2 ? 2 : 1; /* independent accumulator sets: hide FMA latency */
    const uint8_t *pb = qk_panel(w, panel);
    const int grouped = S == QK_W4A16, g = grouped ? qk_problem_group(&w->p) : xv->k1 - xv->k0;
    __m256 yacc[4][2];
    UNROLL for (int r = 0; r < MR; r++) yacc[r][0] = yacc[r][1] = _mm256_setzero_ps();
    for (int kg = xv->k0; kg < xv->k1; kg += g) {
        const int gi = kg / g;
        __m256 acc[U_MAX][4][2];
        UNROLL for (int u = 0; u < U; u++) UNROLL for (int r = 0; r < MR; r++) acc[u][r][0] = acc[u][r][1] =
            _mm256_setzero_ps();
        int k = kg, k1 = k + g;
        if (S == QK_W4A16) {
            /* Σ x·(q − z) per group, exactly decoded: one octet of 8 k per pair of 32-byte loads */
            __m256 zm0, zm1;
            group_zmagic(w, ((size_t)panel * G + gi) * NR, &zm0, &zm1);
            for (; k < k1; k += 8) {
                __m256i o0 = _mm256_loadu_si256((const __m256i *)(pb + (size_t)(k / 8) * 64));
                __m256i o1 = _mm256_loadu_si256((const __m256i *)(pb + (size_t)(k / 8) * 64 + 32));
                UNROLL for (int j = 0; j < 8; j++)
                {
                    __m256 w0 = _mm256_sub_ps(nibble_magic(o0, j), zm0), w1 = _mm256_sub_ps(nibble_magic(o1, j), zm1);
                    const int u = j % U;
                    UNROLL for (int r = 0; r < MR; r++)
                    {
                        __m256 xb = _mm256_broadcast_ss(x + (size_t)r * K + k + j);
                        acc[u][r][0] = _mm256_fmadd_ps(xb, w0, acc[u][r][0]);
                        acc[u][r][1] = _mm256_fmadd_ps(xb, w1, acc[u][r][1]);
                    }
                }
            }
        }
        for (; k + U <= k1; k += U) {
            UNROLL for (int u = 0; u < U; u++)
            {
                __m256 w0, w1;
                decode_raw(S, pb, k + u, &w0, &w1);
                UNROLL for (int r = 0; r < MR; r++)
                {
                    __m256 xb = _mm256_broadcast_ss(x + (size_t)r * K + k + u);
                    acc[u][r][0] = _mm256_fmadd_ps(xb, w0, acc[u][r][0]);
                    acc[u][r][1] = _mm256_fmadd_ps(xb, w1, acc[u][r][1]);
                }
            }
        }
        for (; k < k1; k++) {
            __m256 w0, w1;
            decode_raw(S, pb, k, &w0, &w1);
            UNROLL for (int r = 0; r < MR; r++)
            {
                __m256 xb = _mm256_broadcast_ss(x + (size_t)r * K + k);
                acc[0][r][0] = _mm256_fmadd_ps(xb, w0, acc[0][r][0]);
                acc[0][r][1] = _mm256_fmadd_ps(xb, w1, acc[0][r][1]);
            }
        }
        UNROLL for (int u = 1; u < U; u++) UNROLL for (int r = 0; r < MR; r++)
        {
            acc[0][r][0] = _mm256_add_ps(acc[0][r][0], acc[u][r][0]);
            acc[0][r][1] = _mm256_add_ps(acc[0][r][1], acc[u][r][1]);
        }
        if (grouped) { /* y += s · Σ x·(q − z) */
            const uint16_t *gs = w->gscale + ((size_t)panel * G + gi) * NR;
            __m256 s0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)gs));
            __m256 s1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(gs + 8)));
            UNROLL for (int r = 0; r < MR; r++)
            {
                yacc[r][0] = _mm256_fmadd_ps(s0, acc[0][r][0], yacc[r][0]);
                yacc[r][1] = _mm256_fmadd_ps(s1, acc[0][r][1], yacc[r][1]);
            }
        } else {
            UNROLL for (int r = 0; r < MR; r++)
            {
                yacc[r][0] = acc[0][r][0];
                yacc[r][1] = acc[0][r][1];
            }
        }
    }
    /* fp8 was decoded as e4m3/256: scale back (a power of two, exact) */
    const __m256 back = _mm256_set1_ps(S == QK_FP8 ? 256.0f : 1.0f);
    UNROLL for (int r = 0; r < MR; r++)
    {
        _mm256_storeu_ps(y + r * NR, _mm256_fmadd_ps(yacc[r][0], back, _mm256_loadu_ps(y + r * NR)));
        _mm256_storeu_ps(y + r * NR + 8, _mm256_fmadd_ps(yacc[r][1], back, _mm256_loadu_ps(y + r * NR + 8)));
    }
}

#define DIRECT(S, MR)                                                                                             \
    TGT static void direct_##S##_##MR(const qk_weights *w, int panel, const qk_xf *x, int r0, float *y)           \
    {                                                                                                             \
        direct_panel(S, MR, w, panel, x, r0, y);                                                                  \
    }
#define DIRECT4(S) DIRECT(S, 1) DIRECT(S, 2) DIRECT(S, 3) DIRECT(S, 4)
DIRECT4(QK_FP16)
DIRECT4(QK_W8A16)
DIRECT4(QK_W4A16)
DIRECT4(QK_FP8)
#define ROW(S) {NULL, direct_##S##_1, direct_##S##_2, direct_##S##_3, direct_##S##_4}

const qk_float_small qk_small_avx2 = {
    .nr = NR,
    .mr_max = 4,
    .up_to = {[QK_FP16] = 7, [QK_W8A16] = 7, [QK_W4A16] = 7, [QK_FP8] = 7},
    .format = "fp32_fma",
    .run = {[QK_FP16] = ROW(QK_FP16), [QK_W8A16] = ROW(QK_W8A16), [QK_W4A16] = ROW(QK_W4A16), [QK_FP8] = ROW(QK_FP8)},
};

/* Exact fp32 weights of panel rows kb..kb+kl-1 into B [kl][16] (what qk_weights_dequant gives). */
INLINE void decode_block(qk_scheme S, const qk_weights *w, int panel, int kb, int kl, float *B, int ldb)
{
    const uint8_t *pb = qk_panel(w, panel);
    int n0 = panel * NR;
    __m256 s0 = _mm256_set1_ps(1.0f), s1 = s0, m0 = _mm256_setzero_ps(), m1 = m0;
    if (S == QK_W8A16 || (S == QK_FP8 && w->cscale)) {
        s0 = _mm256_loadu_ps(w->cscale + n0);
        s1 = _mm256_loadu_ps(w->cscale + n0 + 8);
    } else if (S == QK_FP8) {
        s0 = s1 = _mm256_set1_ps(w->tscale);
    }
    if (S == QK_FP8) { /* decode gives e4m3/256 */
        s0 = _mm256_mul_ps(s0, _mm256_set1_ps(256.0f));
        s1 = _mm256_mul_ps(s1, _mm256_set1_ps(256.0f));
    }
    int g = qk_problem_group(&w->p), G = qk_groups(&w->p), cur = -1;
    for (int k = kb; k < kb + kl; k++) {
        __m256 v0, v1;
        decode_raw(S, pb, k, &v0, &v1);
        if (S == QK_W4A16) {
            if (k / g != cur) {
                cur = k / g;
                group_sm(w, ((size_t)panel * G + cur) * NR, &s0, &s1, &m0, &m1);
            }
            /* (q − z)·s: q·s + m is exact here (both are short products) */
            v0 = _mm256_fmadd_ps(v0, s0, m0);
            v1 = _mm256_fmadd_ps(v1, s1, m1);
        } else if (S != QK_FP16) {
            v0 = _mm256_mul_ps(v0, s0);
            v1 = _mm256_mul_ps(v1, s1);
        }
        _mm256_storeu_ps(B + (size_t)(k - kb) * ldb, v0);
        _mm256_storeu_ps(B + (size_t)(k - kb) * ldb + 8, v1);
    }
}

#define DECODE(S)                                                                                                 \
    TGT static void decode_##S(const qk_weights *w, int panel, int kb, int kl, float *B, int ldb)                 \
    {                                                                                                             \
        decode_block(S, w, panel, kb, kl, B, ldb);                                                                \
    }
DECODE(QK_FP16)
DECODE(QK_W8A16)
DECODE(QK_W4A16)
DECODE(QK_FP8)

/* C[MR][16] += A[MR][kl] · B[kl][16]; A packed [kl][6], B and C with row strides ldb, ldc. */
INLINE void ukr_f32(int MR, int kl, const float *A, const float *B, int ldb, float *C, int ldc)
{
    __m256 c[6][2];
    UNROLL for (int r = 0; r < MR; r++)
    {
        c[r][0] = _mm256_loadu_ps(C + (size_t)r * ldc);
        c[r][1] = _mm256_loadu_ps(C + (size_t)r * ldc + 8);
    }
    for (int k = 0; k < kl; k++) {
        __m256 b0 = _mm256_loadu_ps(B + (size_t)k * ldb), b1 = _mm256_loadu_ps(B + (size_t)k * ldb + 8);
        UNROLL for (int r = 0; r < MR; r++)
        {
            __m256 a = _mm256_broadcast_ss(A + (size_t)k * 6 + r);
            c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
            c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
        }
    }
    UNROLL for (int r = 0; r < MR; r++)
    {
        _mm256_storeu_ps(C + (size_t)r * ldc, c[r][0]);
        _mm256_storeu_ps(C + (size_t)r * ldc + 8, c[r][1]);
    }
}

#define UKR(MR)                                                                                                   \
    TGT static void ukr_f32_##MR(int kl, const float *A, const float *B, int ldb, float *C, int ldc)              \
    {                                                                                                             \
        ukr_f32(MR, kl, A, B, ldb, C, ldc);                                                                       \
    }
UKR(1) UKR(2) UKR(3) UKR(4) UKR(5) UKR(6)

/* fp16 → fp32 with F16C (exact); fp8's and bf16's are the portable definition's */
TGT float qk_float_activations_avx2(const qk_problem *p, const uint16_t *x, int m, float *xf)
{
    if (p->scheme == QK_FP8 || qk_problem_bf16(p))
        return qk_float_activations(p, x, m, xf);
    const size_t count = (size_t)m * p->k;
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(xf + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < count; i++)
        xf[i] = qk_half_to_float(x[i]);
    return 1.0f;
}

/* One row of 16 (or fewer, at the edge) outputs scaled by post[0..15]. */
TGT void qk_store_avx2(const qk_problem *p, void *y, int r, int n0, int nr, const float *v, const float *post)
{
    (void)nr; /* 16 */
    int count = p->n - n0 < NR ? p->n - n0 : NR;
    __m256 a = _mm256_mul_ps(_mm256_loadu_ps(v), _mm256_loadu_ps(post));
    __m256 b = _mm256_mul_ps(_mm256_loadu_ps(v + 8), _mm256_loadu_ps(post + 8));
    size_t at = (size_t)r * p->n + n0;
    if (count == NR && !qk_problem_bf16(p)) {
        if (p->out_f32) {
            _mm256_storeu_ps((float *)y + at, a);
            _mm256_storeu_ps((float *)y + at + 8, b);
        } else {
            _mm_storeu_si128((__m128i *)((uint16_t *)y + at), _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT));
            _mm_storeu_si128((__m128i *)((uint16_t *)y + at + 8), _mm256_cvtps_ph(b, _MM_FROUND_TO_NEAREST_INT));
        }
        return;
    }
    float t[NR];
    _mm256_storeu_ps(t, a);
    _mm256_storeu_ps(t + 8, b);
    qk_store_row(p, y, r, n0, t, count);
}

TGT void qk_store_s32_avx2(const qk_problem *p, void *y, int r, int n0, int count, const int32_t *acc, int off,
                           const int32_t *csum, float s_row, const float *cscale)
{
    const __m256 sr = _mm256_set1_ps(s_row);
    const __m256i o = _mm256_set1_epi32(off);
    const size_t at = (size_t)r * p->n + n0;
    int c = 0;
    for (; c + 8 <= count && !qk_problem_bf16(p); c += 8) { /* bf16: the portable store below */
        __m256i a = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(acc + c)),
                                     _mm256_mullo_epi32(o, _mm256_loadu_si256((const __m256i *)(csum + n0 + c))));
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a), sr), _mm256_loadu_ps(cscale + n0 + c));
        if (p->out_f32)
            _mm256_storeu_ps((float *)y + at + c, v);
        else
            _mm_storeu_si128((__m128i *)((uint16_t *)y + at + c), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    }
    if (c < count)
        qk_store_s32_generic(p, y, r, n0 + c, count - c, acc + c, off, csum, s_row, cscale);
}

const qk_float_large qk_large_avx2 = {
    .nr = NR,
    .mr = 6,
    .kc = 256,
    .nc = 64,
    .format = "fp32_fma",
    .decode = {[QK_FP16] = decode_QK_FP16, [QK_W8A16] = decode_QK_W8A16, [QK_W4A16] = decode_QK_W4A16,
               [QK_FP8] = decode_QK_FP8},
    .gemm = {NULL, ukr_f32_1, ukr_f32_2, ukr_f32_3, ukr_f32_4, ukr_f32_5, ukr_f32_6},
    .activations = qk_float_activations_avx2,
    .store = qk_store_avx2,
};

/* ------------------------------------------------------------------ integer schemes */

/* w8a8: C[MR][16] (int32) += A[MR][kl] · B, B = kl/4 quads of [16][4] int8. */
INLINE void ukr_w8a8(int MR, int kl, const int8_t *A, int lda, const int8_t *B, int32_t *C, int ldc)
{
    __m256i c[4][2];
    const __m256i ones = _mm256_set1_epi16(1);
    UNROLL for (int r = 0; r < MR; r++)
    {
        c[r][0] = _mm256_loadu_si256((const __m256i *)(C + (size_t)r * ldc));
        c[r][1] = _mm256_loadu_si256((const __m256i *)(C + (size_t)r * ldc + 8));
    }
    for (int q = 0; q < kl / 4; q++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(B + (size_t)q * 64));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(B + (size_t)q * 64 + 32));
        __m256i a0 = _mm256_abs_epi8(b0), a1 = _mm256_abs_epi8(b1);
        UNROLL for (int r = 0; r < MR; r++)
        {
            int32_t xv;
            memcpy(&xv, A + (size_t)r * lda + 4 * q, 4);
            __m256i x = _mm256_set1_epi32(xv);
            __m256i t0 = _mm256_maddubs_epi16(a0, _mm256_sign_epi8(x, b0));
            __m256i t1 = _mm256_maddubs_epi16(a1, _mm256_sign_epi8(x, b1));
            c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(t0, ones));
            c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(t1, ones));
        }
    }
    UNROLL for (int r = 0; r < MR; r++)
    {
        _mm256_storeu_si256((__m256i *)(C + (size_t)r * ldc), c[r][0]);
        _mm256_storeu_si256((__m256i *)(C + (size_t)r * ldc + 8), c[r][1]);
    }
}

/* w4a8: C[MR][16] (fp32, before the row scale) += groups of A · (B − z) · s. kl is a
 * multiple of the group g; B = kl/8 octets of [16][4] bytes (two nibbles each). */
INLINE void ukr_w4a8(int MR, int kl, const int8_t *A, int lda, const uint8_t *B, float *C, int ldc,
                     const qk_weights *w, size_t gat, int g, const int32_t *gsum, int G)
{
    const __m256i ones = _mm256_set1_epi16(1), mask = _mm256_set1_epi8(0x0f);
    for (int gi = 0; gi < kl / g; gi++) {
        __m256i acc[4][2];
        UNROLL for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
        for (int o = gi * g / 8; o < (gi + 1) * g / 8; o++) {
            __m256i b0 = _mm256_loadu_si256((const __m256i *)(B + (size_t)o * 64));
            __m256i b1 = _mm256_loadu_si256((const __m256i *)(B + (size_t)o * 64 + 32));
            __m256i lo0 = _mm256_and_si256(b0, mask), hi0 = _mm256_and_si256(_mm256_srli_epi16(b0, 4), mask);
            __m256i lo1 = _mm256_and_si256(b1, mask), hi1 = _mm256_and_si256(_mm256_srli_epi16(b1, 4), mask);
            UNROLL for (int r = 0; r < MR; r++)
            {
                int32_t xl, xh;
                memcpy(&xl, A + (size_t)r * lda + 8 * o, 4);
                memcpy(&xh, A + (size_t)r * lda + 8 * o + 4, 4);
                __m256i vl = _mm256_set1_epi32(xl), vh = _mm256_set1_epi32(xh);
                __m256i t0 = _mm256_add_epi16(_mm256_maddubs_epi16(lo0, vl), _mm256_maddubs_epi16(hi0, vh));
                __m256i t1 = _mm256_add_epi16(_mm256_maddubs_epi16(lo1, vl), _mm256_maddubs_epi16(hi1, vh));
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(t0, ones));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(t1, ones));
            }
        }
        /* (Σ x·q − z·Σ x) in integers, exactly; then the group scale */
        const size_t at = gat + (size_t)gi * NR;
        __m256 s0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w->gscale + at)));
        __m256 s1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w->gscale + at + 8)));
        __m256i z0 = _mm256_set1_epi32(8), z1 = z0;
        if (w->gzero) {
            __m128i z = _mm_loadu_si128((const __m128i *)(w->gzero + at));
            z0 = _mm256_cvtepu8_epi32(z);
            z1 = _mm256_cvtepu8_epi32(_mm_srli_si128(z, 8));
        }
        UNROLL for (int r = 0; r < MR; r++)
        {
            __m256i xs = _mm256_set1_epi32(gsum[(size_t)r * G + gi]);
            float *c = C + (size_t)r * ldc;
            __m256 f0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r][0], _mm256_mullo_epi32(z0, xs)));
            __m256 f1 = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r][1], _mm256_mullo_epi32(z1, xs)));
            _mm256_storeu_ps(c, _mm256_fmadd_ps(f0, s0, _mm256_loadu_ps(c)));
            _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(f1, s1, _mm256_loadu_ps(c + 8)));
        }
    }
}

#define UKR_INT(MR)                                                                                               \
    TGT static void ukr_w8a8_##MR(int kl, const int8_t *A, int lda, const int8_t *B, int32_t *C, int ldc)        \
    {                                                                                                             \
        ukr_w8a8(MR, kl, A, lda, B, C, ldc);                                                                      \
    }                                                                                                             \
    TGT static void ukr_w4a8_##MR(int kl, const int8_t *A, int lda, const uint8_t *B, float *C, int ldc,          \
                                  const qk_weights *w, size_t gat, int g, const int32_t *gsum, int G)             \
    {                                                                                                             \
        ukr_w4a8(MR, kl, A, lda, B, C, ldc, w, gat, g, gsum, G);                                                  \
    }
UKR_INT(1) UKR_INT(2) UKR_INT(3) UKR_INT(4)
const qk_ukr_int qk_int_avx2 = {
    .nr = NR,
    .mr_max = 4,
    .kc = 512,
    .nc = 64,
    .format = "int8_dot",
    .w8a8 = {NULL, ukr_w8a8_1, ukr_w8a8_2, ukr_w8a8_3, ukr_w8a8_4},
    .w4a8 = {NULL, ukr_w4a8_1, ukr_w4a8_2, ukr_w4a8_3, ukr_w4a8_4},
    .store = qk_store_avx2,
    .store_s32 = qk_store_s32_avx2,
};
