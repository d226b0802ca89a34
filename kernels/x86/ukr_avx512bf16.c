/* AVX-512 BF16 small-M micro-kernels for w4a16 (Zen 4, Sapphire Rapids and later); its
 * large-M path is the AVX2 family's (registry.c pairs them).
 *
 * The int4 layout (qk.h) keeps 8 consecutive k of a channel in one 32-bit word; nibbles 16
 * bits apart form the pairs (k0,k2), (k4,k6), (k1,k3), (k5,k7). A shift and one vpternlogd
 * turn a pair into two bf16 values 1 + q/16 (the nibble in the top of the mantissa of 1.0),
 * and vdpbf16ps multiplies 16 channels × 2 k at once. X is split exactly into two bf16 terms,
 * x = hi + lo (an fp16 value has 11 significant bits; bf16 holds 8), prepared once per call in
 * the same pair order, so the products are those of the fp16 activations. Per group,
 * Σ x·q = 16·Σ x·(1 + q/16) − 16·Σ x, and the scale and zero point are applied once. */
#include <immintrin.h>
#include <string.h>

#include "kernels/internal.h"

enum { NR = 16 };

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma,f16c")))
#define UNROLL _Pragma("GCC unroll 16")
#ifndef QK_PREFETCH
#define QK_PREFETCH 2048
#endif

/* Row r of X (fp16) as fp32, its pairs and its group sums. The pairs of octet o are the
 * elements in the order 0,2,4,6,1,3,5,7 (nibbles 4t and 16 + 4t hold k-pairs (0,2), (4,6),
 * (1,3), (5,7)), as bf16: hi[o*4 + t] holds two bf16 of x, lo[...] those of x − hi. */
TGT static void prepare_row(const uint16_t *x16, int K, int g, float *xf, uint32_t *hi, uint32_t *lo, float *xsum)
{
    const __m256i order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    __m256 gs = _mm256_setzero_ps();
    for (int o = 0; o < K / 8; o++) {
        __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x16 + o * 8)));
        _mm256_storeu_ps(xf + o * 8, v);
        gs = _mm256_add_ps(gs, v);
        if ((o + 1) * 8 % g == 0) {
            __m128 h = _mm_add_ps(_mm256_castps256_ps128(gs), _mm256_extractf128_ps(gs, 1));
            h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            xsum[((o + 1) * 8 - 1) / g] = _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
            gs = _mm256_setzero_ps();
        }
        __m256 p = _mm256_permutevar8x32_ps(v, order);
        __m128bh bh = _mm256_cvtneps_pbh(p);
        __m256 back = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32((__m128i)bh), 16));
        __m128bh bl = _mm256_cvtneps_pbh(_mm256_sub_ps(p, back)); /* exact: p − hi has at most 3 bits */
        _mm_storeu_si128((__m128i *)(hi + o * 4), (__m128i)bh);
        _mm_storeu_si128((__m128i *)(lo + o * 4), (__m128i)bl);
    }
}

/* The pair at nibbles 4t, 16 + 4t of every lane as two bf16 values 1 + q/16. */
INLINE __m512bh pair_as_bf16(__m512i w, int t)
{
    const int s = 3 - 4 * t;
    __m512i v = s >= 0 ? _mm512_slli_epi32(w, s) : _mm512_srli_epi32(w, -s);
    /* (v & 0x00780078) | 0x3f803f80 */
    return (__m512bh)_mm512_ternarylogic_epi32(v, _mm512_set1_epi32(0x00780078), _mm512_set1_epi32(0x3f803f80), 0xea);
}

/* Rows r0.. of X: the hi pairs [K/2] then the lo pairs [K/2], x->stride bytes per row. */
INLINE void panel_bf16(int MR, const qk_weights *w, int panel, const qk_xf *x, int r0, float *y)
{
    const int G = x->G, pstride = (int)(x->stride / 4);
    const uint32_t *xh = (const uint32_t *)((const uint8_t *)x->extra + (size_t)r0 * x->stride), *xl = xh + x->k / 2;
    const float *xsum = x->xsum + (size_t)r0 * G;
    const int U = MR == 1 ? 4 : MR == 2 ? 2 : 1; /* accumulator sets over the pairs t */
    const uint8_t *pb = qk_panel(w, panel);
    const int g = qk_problem_group(&w->p);
    __m512 yacc[4];
    UNROLL for (int r = 0; r < MR; r++) yacc[r] = _mm512_setzero_ps();
    for (int gi = 0; gi < G; gi++) {
        __m512 ah[4][4], al[4][4];
        UNROLL for (int u = 0; u < U; u++) UNROLL for (int r = 0; r < MR; r++) ah[u][r] = al[u][r] =
            _mm512_setzero_ps();
        for (int o = gi * g / 8; o < (gi + 1) * g / 8; o++) {
            __m512i word = _mm512_loadu_si512(pb + (size_t)o * 64);
            _mm_prefetch((const char *)(pb + (size_t)o * 64 + QK_PREFETCH), _MM_HINT_T0);
            UNROLL for (int t = 0; t < 4; t++)
            {
                __m512bh v = pair_as_bf16(word, t);
                const int u = t % U;
                UNROLL for (int r = 0; r < MR; r++)
                {
                    __m512bh bh = (__m512bh)_mm512_set1_epi32((int)xh[(size_t)r * pstride + o * 4 + t]);
                    __m512bh bl = (__m512bh)_mm512_set1_epi32((int)xl[(size_t)r * pstride + o * 4 + t]);
                    ah[u][r] = _mm512_dpbf16_ps(ah[u][r], v, bh);
                    al[u][r] = _mm512_dpbf16_ps(al[u][r], v, bl);
                }
            }
        }
        __m512 s = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w->gscale + ((size_t)panel * G + gi) * NR)));
        __m512 z = _mm512_set1_ps(8.0f);
        if (w->gzero)
            z = _mm512_cvtepi32_ps(
                _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(w->gzero + ((size_t)panel * G + gi) * NR))));
        __m512 s16 = _mm512_mul_ps(s, _mm512_set1_ps(16.0f));
        __m512 m = _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_add_ps(z, _mm512_set1_ps(16.0f))), s);
        UNROLL for (int r = 0; r < MR; r++)
        {
            __m512 a = _mm512_add_ps(ah[0][r], al[0][r]);
            UNROLL for (int u = 1; u < U; u++) a = _mm512_add_ps(a, _mm512_add_ps(ah[u][r], al[u][r]));
            yacc[r] = _mm512_fmadd_ps(m, _mm512_set1_ps(xsum[(size_t)r * G + gi]), _mm512_fmadd_ps(s16, a, yacc[r]));
        }
    }
    UNROLL for (int r = 0; r < MR; r++) _mm512_storeu_ps(y + r * NR, yacc[r]);
}

#define PANEL(MR)                                                                                                 \
    TGT static void panel_bf16_##MR(const qk_weights *w, int panel, const qk_xf *x, int r0, float *y)             \
    {                                                                                                             \
        panel_bf16(MR, w, panel, x, r0, y);                                                                       \
    }
PANEL(1) PANEL(2) PANEL(3) PANEL(4)

static size_t extra_per_row(const qk_problem *p) { return (size_t)p->k * 4; }

/* X as fp32, its group sums, and its bf16 hi/lo pairs, row by row. */
TGT static float prepare(const qk_problem *p, const uint16_t *x, int m, float *xf, float *xsum, void *extra)
{
    const int K = p->k, G = qk_groups(p), g = qk_problem_group(p);
    for (int r = 0; r < m; r++) {
        uint32_t *hi = (uint32_t *)((uint8_t *)extra + (size_t)r * extra_per_row(p));
        prepare_row(x + (size_t)r * K, K, g, xf + (size_t)r * K, hi, hi + K / 2, xsum + (size_t)r * G);
    }
    return 1.0f;
}

const qk_float_small qk_small_avx512bf16 = {
    .nr = NR,
    .mr_max = 4,
    .format = "bf16_dot",
    .run = {[QK_W4A16] = {NULL, panel_bf16_1, panel_bf16_2, panel_bf16_3, panel_bf16_4}},
    .extra_per_row = extra_per_row,
    .prepare = prepare,
};
