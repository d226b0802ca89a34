/* AVX-512 helpers shared by the AVX-512 families (ukr_avx512.c, ukr_vnni.c): the output stores
 * at any panel width, and the activation conversions every call makes before its micro-kernels
 * run. Each conversion is bit for bit what its portable definition gives (kernels/quant.c:
 * qk_half_to_float, qk_bf16_to_float and back, qk_quantize_row_int8, e4m3 encode and decode);
 * tests/test_kernels.c holds them to it over every fp16 and bf16 value. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/internal.h"

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

/* the first n of 16 lanes */
static inline __mmask16 first(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

/* bf16(v), as qk_float_to_bf16: to nearest even, NaN kept quiet */
TGT static inline __m256i bf16_of(__m512 v)
{
    const __m512i b = _mm512_castps_si512(v);
    __m512i r = _mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                                     _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1))));
    r = _mm512_mask_or_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), b, _mm512_set1_epi32(0x400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

TGT static void store16(const qk_problem *p, void *y, size_t at, __m512 v, int n)
{
    if (p->out_f32)
        _mm512_mask_storeu_ps((float *)y + at, first(n), v);
    else if (qk_problem_bf16(p))
        _mm256_mask_storeu_epi16((uint16_t *)y + at, first(n), bf16_of(v));
    else
        _mm256_mask_storeu_epi16((uint16_t *)y + at, first(n), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

/* Row r, channels n0 .. n0+nr−1 of Y (fewer at the edge of N): v[c]·post[c]. */
TGT void qk_store_avx512(const qk_problem *p, void *y, int r, int n0, int nr, const float *v, const float *post)
{
    const int count = p->n - n0 < nr ? p->n - n0 : nr;
    const size_t at = (size_t)r * p->n + n0;
    for (int c = 0; c < count; c += 16)
        store16(p, y, at + c, _mm512_mul_ps(_mm512_loadu_ps(v + c), _mm512_loadu_ps(post + c)), count - c);
}

/* w8a8's epilogue: (acc − off·csum)·s_row·cscale for count channels from n0. */
TGT void qk_store_s32_avx512(const qk_problem *p, void *y, int r, int n0, int count, const int32_t *acc, int off,
                             const int32_t *csum, float s_row, const float *cscale)
{
    const __m512 sr = _mm512_set1_ps(s_row);
    const __m512i o = _mm512_set1_epi32(off);
    const size_t at = (size_t)r * p->n + n0;
    for (int c = 0; c < count; c += 16) {
        const __mmask16 m = first(count - c);
        __m512i a = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, acc + c),
                                     _mm512_mullo_epi32(o, _mm512_maskz_loadu_epi32(m, csum + n0 + c)));
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a), sr), _mm512_maskz_loadu_ps(m, cscale + n0 + c));
        store16(p, y, at + c, v, count - c);
    }
}

/* 16 fp16 or bf16 values (the first n) as fp32: vcvtph2ps is exact, subnormals included; a
 * bf16 is the top half of its fp32 */
TGT static inline __m512 x16(const uint16_t *x, int n, int bf16)
{
    const __m256i v = _mm256_maskz_loadu_epi16(first(n), x);
    return bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)) : _mm512_cvtph_ps(v);
}

TGT float qk_absmax_x16_avx512(const uint16_t *x, size_t count, int bf16)
{
    __m512 m = _mm512_setzero_ps();
    for (size_t i = 0; i < count; i += 16) {
        int n = count - i < 16 ? (int)(count - i) : 16;
        /* vmaxps returns its second operand when the first is NaN: a NaN is skipped, as fmaxf does */
        m = _mm512_max_ps(_mm512_abs_ps(x16(x + i, n, bf16)), m);
    }
    return _mm512_reduce_max_ps(m);
}

TGT float qk_quantize_row_int8_avx512(const uint16_t *x, int k, int bf16, int8_t *q)
{
    const float amax = qk_absmax_x16_avx512(x, (size_t)k, bf16);
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    const __m512 r = _mm512_set1_ps(inv);
    for (int i = 0; i < k; i += 16) {
        int n = k - i < 16 ? k - i : 16;
        /* lrintf under the default rounding: to nearest even; |x·inv| ≤ 127 */
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(x16(x + i, n, bf16), r));
        _mm_mask_storeu_epi8(q + i, first(n), _mm512_cvtepi32_epi8(v));
    }
    return amax / 127.0f;
}

TGT void qk_load_x_avx512(const uint16_t *x, size_t count, int bf16, float *xf)
{
    for (size_t i = 0; i < count; i += 16) {
        int n = count - i < 16 ? (int)(count - i) : 16;
        _mm512_mask_storeu_ps(xf + i, first(n), x16(x + i, n, bf16));
    }
}

/* e4m3(v) as fp32, v = x·inv: saturate at 448; below 2^-6 (subnormal) a multiple of 2^-9; else
 * 3 mantissa bits, to nearest even; the sign kept (−0 too), NaN stays NaN. */
TGT void qk_fp8_x_avx512(const uint16_t *x, size_t count, int bf16, float inv, float *xf)
{
    const __m512 r = _mm512_set1_ps(inv), top = _mm512_set1_ps(448.0f), sub = _mm512_set1_ps(0.015625f);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    for (size_t i = 0; i < count; i += 16) {
        int n = count - i < 16 ? (int)(count - i) : 16;
        __m512 v = _mm512_mul_ps(x16(x + i, n, bf16), r), a = _mm512_abs_ps(v);
        __m512i b = _mm512_castps_si512(a);
        /* normal: round the mantissa to 3 bits, ties to even */
        __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 20), _mm512_set1_epi32(1));
        __m512i rn = _mm512_and_si512(_mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7ffff), odd)),
                                      _mm512_set1_epi32((int)0xfff00000u));
        __m512 e = _mm512_castsi512_ps(rn);
        /* subnormal: to a multiple of 2^-9, ties to even */
        e = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, sub, _CMP_LT_OQ), e,
                                 _mm512_roundscale_ps(a, (9 << 4) | _MM_FROUND_TO_NEAREST_INT));
        e = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, top, _CMP_GE_OQ), e, top);
        e = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(e), _mm512_and_si512(_mm512_castps_si512(v), sign)));
        e = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), e, _mm512_set1_ps(NAN)); /* 0x7F's */
        _mm512_mask_storeu_ps(xf + i, first(n), e);
    }
}

TGT float qk_float_activations_avx512(const qk_problem *p, const uint16_t *x, int m, float *xf)
{
    const size_t count = (size_t)m * p->k;
    const int bf16 = qk_problem_bf16(p);
    if (p->scheme != QK_FP8) {
        qk_load_x_avx512(x, count, bf16, xf);
        return 1.0f;
    }
    /* one scale for the tensor, as qk_fp8_act_scale: inv = fl(448/absmax), s = fl(absmax/448) */
    const float amax = qk_absmax_x16_avx512(x, count, bf16), inv = amax > 0 ? 448.0f / amax : 0.0f;
    qk_fp8_x_avx512(x, count, bf16, inv, xf);
    return amax / 448.0f;
}
