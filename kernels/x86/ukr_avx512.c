/* AVX-512 micro-kernels for the float schemes (fp16, w8a16, w4a16, fp8, bf16), sized for 32 zmm
 * registers; the loop around them is kernels/cpu/loop_float.c, the layouts are in qk.h.
 * Panels are 64 channels (four zmm): a row of a panel is one 128-byte (fp16), 64-byte (int8,
 * e4m3) or, for 8 k of int4, 256-byte run, so both paths stream whole cache lines.
 *  - small M: each row of a panel is decoded in four zmm to its raw values (fp16 by vcvtph2ps;
 *    int8 by sign extension and conversion; e4m3 by moving its bits into an fp32, which is
 *    e4m3·2^-120 exactly, subnormals included; int4 exactly as q − z by the 2^23 trick; bf16 by
 *    a shift or a mask of its k-pair word) and
 *    multiplied with up to 4 rows of X, in 8 or more accumulator chains; the scales are applied
 *    by the loop (per channel) or per group here.
 *  - large M: decode dequantizes a K block exactly to fp32 (the values qk_weights_dequant
 *    gives), then a 6 × 64 register tile (24 accumulators, 4 weight vectors, the activations as
 *    embedded broadcasts) runs over it: the BLIS shape for 32 registers.
 * X comes in as fp32 (fp8: e4m3 values), converted once per call (kernels/x86/avx512.c). */
#include <immintrin.h>
#include <string.h>

#include "kernels/internal.h"

enum { NR = 64, MR_SMALL = 4, MR_LARGE = 6 };

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define UNROLL _Pragma("GCC unroll 16")

/* ------------------------------------------------------------------ decoding */

/* Raw values of channels 16j .. 16j+15 of row k of a 64-channel panel (fp8 as e4m3·2^-120;
 * w8a16 before its channel scale). */
INLINE __m512 raw16(qk_scheme S, const uint8_t *pb, int k, int j)
{
    if (S == QK_BF16) { /* a k-pair per 32-bit word: the even k in the low half */
        const __m512i v = _mm512_loadu_si512(pb + (size_t)(k / 2) * 4 * NR + 64 * j);
        return _mm512_castsi512_ps(k % 2 ? _mm512_and_si512(v, _mm512_set1_epi32((int)0xffff0000u))
                                         : _mm512_slli_epi32(v, 16));
    }
    if (S == QK_FP16)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pb + (size_t)k * 2 * NR + 32 * j)));
    const __m128i b = _mm_loadu_si128((const __m128i *)(pb + (size_t)k * NR + 16 * j));
    if (S == QK_W8A16)
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b));
    /* fp8: sign-extended to 32 bits and shifted by 20, the e4m3 bits sit where fp32 keeps the low
     * bits of its exponent and the top of its mantissa: the float is e4m3·2^-120 exactly (e4m3's
     * subnormals become fp32 subnormals, exact without DAZ, which qbench never sets); the sign
     * lands in bits 27–31, and 27–30 come off. No conversion instruction (vcvtph2ps costs two
     * cycles per vector on Zen 4). */
    const __m512i v = _mm512_slli_epi32(_mm512_cvtepi8_epi32(b), 20);
    return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32((int)0x87f00000u)));
}

/* Nibble i (0..7) of every lane as the float 2^23 + q (the nibble in the low mantissa bits of
 * 2^23: no conversion needed); subtracting 2^23 + z gives q − z exactly. */
INLINE __m512 nibble_magic(__m512i w, int i)
{
    const int bit = i < 4 ? 8 * i : 8 * (i - 4) + 4;
    __m512i t = bit ? _mm512_srli_epi32(w, bit) : w;
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(t, _mm512_set1_epi32(15), _mm512_set1_epi32(0x4b000000),
                                                         0xea)); /* (t & 15) | 2^23 */
}

/* 2^23 + z of a group for 16 channels (z = 8 when symmetric). */
INLINE __m512 group_zmagic(const qk_weights *w, size_t at)
{
    __m512i z = w->gzero ? _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(w->gzero + at)))
                         : _mm512_set1_epi32(8);
    return _mm512_castsi512_ps(_mm512_or_si512(z, _mm512_set1_epi32(0x4b000000)));
}

/* ------------------------------------------------------------------ small M */

/* y[R][64] += the unscaled sums over [k0, k1) of rows r0.. of X against one panel: four vectors
 * per row of the panel, every one of them used by each row of X. */
INLINE void direct_panel(qk_scheme S, int R, const qk_weights *w, int panel, const qk_xf *xv, int r0, float *y)
{
    enum { U_MAX = 2 };
    const int U = R == 1 ? 2 : 1; /* independent chains: 8 at one row, 4R at more */
    const int K = xv->k, G = xv->G;
    const float *x = xv->x + (size_t)r0 * K;
    const uint8_t *pb = qk_panel(w, panel);
    const int grouped = S == QK_W4A16, g = grouped ? qk_problem_group(&w->p) : xv->k1 - xv->k0;
    __m512 yacc[MR_SMALL][4];
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int j = 0; j < 4; j++) yacc[r][j] = _mm512_setzero_ps();
    for (int kg = xv->k0; kg < xv->k1; kg += g) {
        const int gi = kg / g;
        __m512 acc[U_MAX][MR_SMALL][4];
        UNROLL for (int u = 0; u < U; u++) UNROLL for (int r = 0; r < R; r++) UNROLL for (int j = 0; j < 4; j++)
            acc[u][r][j] = _mm512_setzero_ps();
        int k = kg;
        const int k1 = k + g;
        const size_t at = ((size_t)panel * G + gi) * NR;
        if (S == QK_W4A16) { /* an octet: 8 k of the 64 channels in four 64-byte loads */
            __m512 zm[4];
            UNROLL for (int j = 0; j < 4; j++) zm[j] = group_zmagic(w, at + 16 * j);
            for (; k < k1; k += 8) {
                const uint8_t *o = pb + (size_t)(k / 8) * 4 * NR;
                UNROLL for (int j = 0; j < 4; j++)
                {
                    const __m512i word = _mm512_loadu_si512(o + 64 * j);
                    UNROLL for (int i = 0; i < 8; i++)
                    {
                        const __m512 v = _mm512_sub_ps(nibble_magic(word, i), zm[j]);
                        UNROLL for (int r = 0; r < R; r++) acc[i % U][r][j] =
                            _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)r * K + k + i]), v, acc[i % U][r][j]);
                    }
                }
            }
        } else {
            for (; k + U <= k1; k += U)
                UNROLL for (int u = 0; u < U; u++) UNROLL for (int j = 0; j < 4; j++)
                {
                    const __m512 v = raw16(S, pb, k + u, j);
                    UNROLL for (int r = 0; r < R; r++) acc[u][r][j] =
                        _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)r * K + k + u]), v, acc[u][r][j]);
                }
            for (; k < k1; k++)
                UNROLL for (int j = 0; j < 4; j++)
                {
                    const __m512 v = raw16(S, pb, k, j);
                    UNROLL for (int r = 0; r < R; r++) acc[0][r][j] =
                        _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)r * K + k]), v, acc[0][r][j]);
                }
        }
        UNROLL for (int r = 0; r < R; r++) UNROLL for (int j = 0; j < 4; j++)
        {
            const __m512 a = U > 1 ? _mm512_add_ps(acc[0][r][j], acc[1][r][j]) : acc[0][r][j];
            if (grouped) /* y += s · Σ x·(q − z) */
                yacc[r][j] = _mm512_fmadd_ps(
                    _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w->gscale + at + 16 * j))), a, yacc[r][j]);
            else
                yacc[r][j] = a;
        }
    }
    const __m512 back = _mm512_set1_ps(S == QK_FP8 ? 0x1p120f : 1.0f); /* e4m3·2^-120 back: exact */
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int j = 0; j < 4; j++)
    {
        float *yv = y + r * NR + 16 * j;
        _mm512_storeu_ps(yv, _mm512_fmadd_ps(yacc[r][j], back, _mm512_loadu_ps(yv)));
    }
}

#define DIRECT(S, R)                                                                                              \
    TGT static void direct_##S##_##R(const qk_weights *w, int panel, const qk_xf *x, int r0, float *y)            \
    {                                                                                                             \
        direct_panel(S, R, w, panel, x, r0, y);                                                                   \
    }
#define DIRECT4(S) DIRECT(S, 1) DIRECT(S, 2) DIRECT(S, 3) DIRECT(S, 4)
DIRECT4(QK_FP16)
DIRECT4(QK_W8A16)
DIRECT4(QK_W4A16)
DIRECT4(QK_FP8)
DIRECT4(QK_BF16)
#define ROW(S) {NULL, direct_##S##_1, direct_##S##_2, direct_##S##_3, direct_##S##_4}

const qk_float_small qk_small_avx512 = {
    .nr = NR,
    .mr_max = MR_SMALL,
    /* measured on Zen 4: decoding in registers beats decoding once per K block
     * up to M = 64, except for e4m3, whose decode costs four instructions per vector */
    .up_to = {[QK_FP16] = 64, [QK_W8A16] = 64, [QK_W4A16] = 64, [QK_FP8] = 31, [QK_BF16] = 64},
    .format = "fp32_fma",
    .run = {[QK_FP16] = ROW(QK_FP16), [QK_W8A16] = ROW(QK_W8A16), [QK_W4A16] = ROW(QK_W4A16), [QK_FP8] = ROW(QK_FP8),
            [QK_BF16] = ROW(QK_BF16)},
};

/* The same, beside the bf16 dot product's large path (ukr_avx512bf16.c), which needs no decode:
 * decoding in registers wins only while the weights' stream bounds the call. */
const qk_float_small qk_small_avx512_beside_dot = {
    .nr = NR,
    .mr_max = MR_SMALL,
    .up_to = {[QK_BF16] = 4}, /* measured on Zen 4, N = K = 4096: 12–16% ahead at M = 1, behind from M = 8 */
    .format = "fp32_fma",
    .run = {[QK_BF16] = ROW(QK_BF16)},
};

/* The same, beside the bf16 k-pairs path (predequant = 2, ukr_avx512bf16.c) of w8a16 with bf16
 * activations and of fp8: measured on Zen 4, N = K = 4096, interleaved in one process, ahead at
 * M = 4 (fp8 0.83 against 1.04 ms; w8a16 with bf16 X 0.75 against 1.06) and behind from M = 5
 * (1.20 against 1.15; 1.11 against 1.05; at M = 8 1.55 against 1.25 and 1.38 against 1.23).
 * With fp16 activations w8a16's large path is the fp32 one, as above. */
const qk_float_small qk_small_avx512_beside_pairs = {
    .nr = NR,
    .mr_max = MR_SMALL,
    .up_to = {[QK_W8A16] = 64, [QK_FP8] = 4},
    .up_to_bf16 = {[QK_W8A16] = 4},
    .format = "fp32_fma",
    .run = {[QK_W8A16] = ROW(QK_W8A16), [QK_FP8] = ROW(QK_FP8)},
};

/* ------------------------------------------------------------------ large M */

/* The exact fp32 weights of panel rows kb..kb+kl-1 into B (row stride ldb). */
INLINE void decode_block(qk_scheme S, const qk_weights *w, int panel, int kb, int kl, float *B, int ldb)
{
    const uint8_t *pb = qk_panel(w, panel);
    const int n0 = panel * NR;
    __m512 s[4];
    UNROLL for (int j = 0; j < 4; j++)
    {
        s[j] = _mm512_set1_ps(1.0f);
        if (S == QK_W8A16 || (S == QK_FP8 && w->cscale))
            s[j] = _mm512_loadu_ps(w->cscale + n0 + 16 * j);
        else if (S == QK_FP8)
            s[j] = _mm512_set1_ps(w->tscale);
        if (S == QK_FP8) /* the decode gives e4m3·2^-120: 2^60 on each side keeps both normal */
            s[j] = _mm512_mul_ps(s[j], _mm512_set1_ps(0x1p60f));
    }
    if (S != QK_W4A16) {
        for (int k = kb; k < kb + kl; k++)
            UNROLL for (int j = 0; j < 4; j++)
            {
                __m512 v = raw16(S, pb, k, j);
                if (S == QK_FP8)
                    v = _mm512_mul_ps(v, _mm512_set1_ps(0x1p60f)); /* exact */
                _mm512_storeu_ps(B + (size_t)(k - kb) * ldb + 16 * j,
                                 S == QK_FP16 || S == QK_BF16 ? v : _mm512_mul_ps(v, s[j]));
            }
        return;
    }
    /* w4a16: (q − z)·s group by group, an octet at a time (K blocks are multiples of 16 and
     * groups of 8): q − z is exact, and so is its product with an fp16 scale */
    const int g = qk_problem_group(&w->p), G = qk_groups(&w->p);
    for (int k = kb; k < kb + kl;) {
        const int gi = k / g, end = (gi + 1) * g < kb + kl ? (gi + 1) * g : kb + kl;
        const size_t at = ((size_t)panel * G + gi) * NR;
        __m512 zm[4], gs[4];
        UNROLL for (int j = 0; j < 4; j++)
        {
            zm[j] = group_zmagic(w, at + 16 * j);
            gs[j] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w->gscale + at + 16 * j)));
        }
        for (; k < end; k += 8) {
            const uint8_t *o = pb + (size_t)(k / 8) * 4 * NR;
            UNROLL for (int j = 0; j < 4; j++)
            {
                const __m512i word = _mm512_loadu_si512(o + 64 * j);
                UNROLL for (int i = 0; i < 8; i++) _mm512_storeu_ps(
                    B + (size_t)(k + i - kb) * ldb + 16 * j, _mm512_mul_ps(_mm512_sub_ps(nibble_magic(word, i), zm[j]), gs[j]));
            }
        }
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
DECODE(QK_BF16)

/* C[R][64] += A[R][kl] · B[kl][64]; A packed [kl][6]. */
INLINE void ukr_f32(int R, int kl, const float *A, const float *B, int ldb, float *C, int ldc)
{
    __m512 c[MR_LARGE][4];
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int j = 0; j < 4; j++) c[r][j] =
        _mm512_loadu_ps(C + (size_t)r * ldc + 16 * j);
    _Pragma("GCC unroll 4") for (int k = 0; k < kl; k++) {
        const float *b = B + (size_t)k * ldb;
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32),
                     b3 = _mm512_loadu_ps(b + 48);
        UNROLL for (int r = 0; r < R; r++)
        {
            const __m512 a = _mm512_set1_ps(A[(size_t)k * MR_LARGE + r]);
            c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
            c[r][2] = _mm512_fmadd_ps(a, b2, c[r][2]);
            c[r][3] = _mm512_fmadd_ps(a, b3, c[r][3]);
        }
    }
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int j = 0; j < 4; j++)
        _mm512_storeu_ps(C + (size_t)r * ldc + 16 * j, c[r][j]);
}

#define UKR(R)                                                                                                    \
    TGT static void ukr_f32_##R(int kl, const float *A, const float *B, int ldb, float *C, int ldc)               \
    {                                                                                                             \
        ukr_f32(R, kl, A, B, ldb, C, ldc);                                                                        \
    }
UKR(1) UKR(2) UKR(3) UKR(4) UKR(5) UKR(6)

const qk_float_large qk_large_avx512 = {
    .nr = NR,
    .mr = MR_LARGE,
    .kc = 256,
    .nc = 256,
    .format = "fp32_fma",
    .decode = {[QK_FP16] = decode_QK_FP16, [QK_W8A16] = decode_QK_W8A16, [QK_W4A16] = decode_QK_W4A16,
               [QK_FP8] = decode_QK_FP8, [QK_BF16] = decode_QK_BF16},
    .gemm = {NULL, ukr_f32_1, ukr_f32_2, ukr_f32_3, ukr_f32_4, ukr_f32_5, ukr_f32_6},
    .activations = qk_float_activations_avx512,
    .store = qk_store_avx512,
};
