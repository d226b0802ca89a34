/* AVX-512 VNNI kernels for the integer schemes (Ice Lake, Zen 4 and later): vpdpbusd
 * multiplies 16 channels × 4 k of u8 × s8 and accumulates into int32 in one instruction.
 * w8a8: the activations go in as x + 128 (u8) against signed weights; 128·Σ_k w[n,k], kept
 * per channel at packing time, is subtracted at the end. w4a8: the weights are the u8 operand
 * (nibbles 0..15) against signed activations; zero points come off per group. NR = 16
 * channels (one zmm); the loop around them is kernels/cpu/loop_int.c. */
#include <immintrin.h>
#include <string.h>

#include "kernels/internal.h"

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define UNROLL _Pragma("GCC unroll 16")

static inline int32_t word_at(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

INLINE void vnni_w8a8(int MR, int kl, const int8_t *A, int lda, const int8_t *B, int32_t *C, int ldc)
{
    __m512i c[4][2];
    UNROLL for (int r = 0; r < MR; r++)
    {
        c[r][0] = _mm512_loadu_si512(C + (size_t)r * ldc);
        c[r][1] = _mm512_setzero_si512(); /* a second chain per row: hides vpdpbusd latency */
    }
    int q = 0;
    for (; q + 2 <= kl / 4; q += 2)
        UNROLL for (int h = 0; h < 2; h++)
        {
            __m512i b = _mm512_loadu_si512(B + (size_t)(q + h) * 64);
            UNROLL for (int r = 0; r < MR; r++) c[r][h] =
                _mm512_dpbusd_epi32(c[r][h], _mm512_set1_epi32(word_at(A + (size_t)r * lda + 4 * (q + h))), b);
        }
    for (; q < kl / 4; q++) {
        __m512i b = _mm512_loadu_si512(B + (size_t)q * 64);
        UNROLL for (int r = 0; r < MR; r++) c[r][0] =
            _mm512_dpbusd_epi32(c[r][0], _mm512_set1_epi32(word_at(A + (size_t)r * lda + 4 * q)), b);
    }
    UNROLL for (int r = 0; r < MR; r++) _mm512_storeu_si512(C + (size_t)r * ldc, _mm512_add_epi32(c[r][0], c[r][1]));
}

INLINE void vnni_w4a8(int MR, int kl, const int8_t *A, int lda, const uint8_t *B, float *C, int ldc,
                      const qk_weights *w, size_t gat, int g, const int32_t *gsum, int G)
{
    const __m512i mask = _mm512_set1_epi8(0x0f);
    for (int gi = 0; gi < kl / g; gi++) {
        __m512i lo[4], hi[4];
        UNROLL for (int r = 0; r < MR; r++) lo[r] = hi[r] = _mm512_setzero_si512();
        for (int o = gi * g / 8; o < (gi + 1) * g / 8; o++) {
            __m512i b = _mm512_loadu_si512(B + (size_t)o * 64);
            __m512i bl = _mm512_and_si512(b, mask), bh = _mm512_and_si512(_mm512_srli_epi16(b, 4), mask);
            UNROLL for (int r = 0; r < MR; r++)
            {
                const int8_t *x = A + (size_t)r * lda + 8 * o;
                lo[r] = _mm512_dpbusd_epi32(lo[r], bl, _mm512_set1_epi32(word_at(x)));
                hi[r] = _mm512_dpbusd_epi32(hi[r], bh, _mm512_set1_epi32(word_at(x + 4)));
            }
        }
        /* (Σ x·q − z·Σ x) in integers, exactly; then the group scale */
        const size_t at = gat + (size_t)gi * 16;
        __m512 s = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w->gscale + at)));
        __m512i z = w->gzero ? _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(w->gzero + at)))
                             : _mm512_set1_epi32(8);
        UNROLL for (int r = 0; r < MR; r++)
        {
            float *c = C + (size_t)r * ldc;
            __m512i xz = _mm512_mullo_epi32(z, _mm512_set1_epi32(gsum[(size_t)r * G + gi]));
            __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_add_epi32(lo[r], hi[r]), xz));
            _mm512_storeu_ps(c, _mm512_fmadd_ps(f, s, _mm512_loadu_ps(c)));
        }
    }
}

#define UKR(MR)                                                                                                   \
    TGT static void w8a8_##MR(int kl, const int8_t *A, int lda, const int8_t *B, int32_t *C, int ldc)            \
    {                                                                                                             \
        vnni_w8a8(MR, kl, A, lda, B, C, ldc);                                                                     \
    }                                                                                                             \
    TGT static void w4a8_##MR(int kl, const int8_t *A, int lda, const uint8_t *B, float *C, int ldc,              \
                              const qk_weights *w, size_t gat, int g, const int32_t *gsum, int G)                 \
    {                                                                                                             \
        vnni_w4a8(MR, kl, A, lda, B, C, ldc, w, gat, g, gsum, G);                                                 \
    }
UKR(1) UKR(2) UKR(3) UKR(4)

const qk_ukr_int qk_int_vnni = {
    .nr = 16,
    .mr_max = 4,
    .format = "int8_dot",
    .w8a8 = {NULL, w8a8_1, w8a8_2, w8a8_3, w8a8_4},
    .w4a8 = {NULL, w4a8_1, w4a8_2, w4a8_3, w4a8_4},
    .w8a8_offset = 1,
    .store = qk_store_avx2,
    .store_s32 = qk_store_s32_avx2,
};
