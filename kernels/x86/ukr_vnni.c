/* AVX-512 VNNI kernels for the integer schemes (Ice Lake, Zen 4 and later): vpdpbusd multiplies
 * 16 channels × 4 k of u8 × s8 and accumulates into int32 in one instruction. The panel is 64
 * channels (four zmm) and the register tile MR × 64, up to 6 rows: 24 accumulators, so that
 * every weight vector loaded serves MR rows and every activation word four vectors (the BLIS
 * shape for 32 registers). The loop around them is kernels/cpu/loop_int.c.
 *  - w8a8: the activations go in as x + 128 (u8) against signed weights; 128·Σ_k w[n,k], kept
 *    per channel at packing time, comes off in the epilogue.
 *  - w4a8: the weights are the u8 operand (nibbles 0..15, unpacked with one shift and two
 *    masks per 128) against signed activations, which vpdpbusd reads as an embedded broadcast;
 *    zero points come off per group in integers (Σ x·q − z·Σ x exactly), then the group's
 *    scale. */
#include <immintrin.h>
#include <string.h>

#include "kernels/internal.h"

enum { NR = 64, MR = 6 };

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define UNROLL _Pragma("GCC unroll 16")

static inline int32_t word_at(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* C[R][64] (int32, row stride ldc) += A[R][kl] · B; B = kl/4 quads of [64][4] int8. With one
 * or two rows, two quads at a time into separate accumulators: eight chains hide the latency. */
INLINE void vnni_w8a8(int R, int kl, const int8_t *A, int lda, const int8_t *B, int32_t *C, int ldc)
{
    enum { U_MAX = 2 };
    const int U = R <= 2 ? 2 : 1;
    __m512i c[U_MAX][MR][4];
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int j = 0; j < 4; j++)
    {
        c[0][r][j] = _mm512_loadu_si512(C + (size_t)r * ldc + 16 * j);
        if (U > 1)
            c[1][r][j] = _mm512_setzero_si512();
    }
    const int quads = kl / 4;
    int q = 0;
    for (; q + U <= quads; q += U)
        UNROLL for (int u = 0; u < U; u++)
        {
            const int8_t *b = B + (size_t)(q + u) * 4 * NR;
            __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64), b2 = _mm512_loadu_si512(b + 128),
                    b3 = _mm512_loadu_si512(b + 192);
            UNROLL for (int r = 0; r < R; r++)
            {
                __m512i a = _mm512_set1_epi32(word_at(A + (size_t)r * lda + 4 * (q + u)));
                c[u][r][0] = _mm512_dpbusd_epi32(c[u][r][0], a, b0);
                c[u][r][1] = _mm512_dpbusd_epi32(c[u][r][1], a, b1);
                c[u][r][2] = _mm512_dpbusd_epi32(c[u][r][2], a, b2);
                c[u][r][3] = _mm512_dpbusd_epi32(c[u][r][3], a, b3);
            }
        }
    for (; q < quads; q++) {
        const int8_t *b = B + (size_t)q * 4 * NR;
        UNROLL for (int r = 0; r < R; r++)
        {
            __m512i a = _mm512_set1_epi32(word_at(A + (size_t)r * lda + 4 * q));
            UNROLL for (int j = 0; j < 4; j++) c[0][r][j] =
                _mm512_dpbusd_epi32(c[0][r][j], a, _mm512_loadu_si512(b + 64 * j));
        }
    }
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int j = 0; j < 4; j++)
    {
        __m512i v = U > 1 ? _mm512_add_epi32(c[0][r][j], c[1][r][j]) : c[0][r][j];
        _mm512_storeu_si512(C + (size_t)r * ldc + 16 * j, v);
    }
}

/* C[R][32] (fp32, before the token's scale) += over the kl/g groups: (Σ x·q − z·Σ x)·s. B =
 * kl/8 octets of [32][4] bytes: byte b of channel n's word holds k_b (low nibble) and k_{b+4}.
 * A panel of 32 channels (GCC spills a 64-wide tile of int4): 12 accumulators, the nibbles of
 * two vectors and the activation words, read as embedded broadcasts, stay in registers, and
 * the weights stream in order. */
enum { NR4 = 32 };
INLINE void vnni_w4a8(int R, int kl, const int8_t *A, int lda, const uint8_t *B, float *C, int ldc,
                      const qk_weights *w, size_t gat, int g, const int32_t *gsum, int G)
{
    const __m512i mask = _mm512_set1_epi8(0x0f);
    for (int gi = 0; gi < kl / g; gi++) {
        __m512i acc[MR][2];
        UNROLL for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
        for (int o = gi * g / 8; o < (gi + 1) * g / 8; o++) {
            const uint8_t *b = B + (size_t)o * 4 * NR4;
            __m512i v0 = _mm512_loadu_si512(b), v1 = _mm512_loadu_si512(b + 64);
            __m512i lo0 = _mm512_and_si512(v0, mask), hi0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), mask);
            __m512i lo1 = _mm512_and_si512(v1, mask), hi1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), mask);
            UNROLL for (int r = 0; r < R; r++)
            {
                const int8_t *x = A + (size_t)r * lda + 8 * o;
                const __m512i xl = _mm512_set1_epi32(word_at(x)), xh = _mm512_set1_epi32(word_at(x + 4));
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], lo0, xl);
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], lo1, xl);
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], hi0, xh);
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], hi1, xh);
            }
        }
        const size_t at = gat + (size_t)gi * NR4;
        UNROLL for (int j = 0; j < 2; j++)
        {
            __m512 s = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w->gscale + at + 16 * j)));
            __m512i z = w->gzero ? _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(w->gzero + at + 16 * j)))
                                 : _mm512_set1_epi32(8);
            UNROLL for (int r = 0; r < R; r++)
            {
                float *c = C + (size_t)r * ldc + 16 * j;
                __m512i xz = _mm512_mullo_epi32(z, _mm512_set1_epi32(gsum[(size_t)r * G + gi]));
                __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][j], xz));
                _mm512_storeu_ps(c, _mm512_fmadd_ps(f, s, _mm512_loadu_ps(c)));
            }
        }
    }
}

#define UKR(R)                                                                                                    \
    TGT static void w8a8_##R(int kl, const int8_t *A, int lda, const int8_t *B, int32_t *C, int ldc)             \
    {                                                                                                             \
        vnni_w8a8(R, kl, A, lda, B, C, ldc);                                                                      \
    }                                                                                                             \
    TGT static void w4a8_##R(int kl, const int8_t *A, int lda, const uint8_t *B, float *C, int ldc,               \
                             const qk_weights *w, size_t gat, int g, const int32_t *gsum, int G)                  \
    {                                                                                                             \
        vnni_w4a8(R, kl, A, lda, B, C, ldc, w, gat, g, gsum, G);                                                  \
    }
UKR(1) UKR(2) UKR(3) UKR(4) UKR(5) UKR(6)

const qk_ukr_int qk_int_vnni = {
    .nr = NR,
    .mr_max = MR,
    .kc = 1024,
    .nc = 128,
    .format = "int8_dot",
    .w8a8 = {NULL, w8a8_1, w8a8_2, w8a8_3, w8a8_4, w8a8_5, w8a8_6},
    .w8a8_offset = 1,
    .store = qk_store_avx512,
    .store_s32 = qk_store_s32_avx512,
    .quantize_row = qk_quantize_row_int8_avx512,
};

const qk_ukr_int qk_int_vnni4 = {
    .nr = NR4,
    .mr_max = MR,
    .kc = 1024,
    .nc = 128,
    .format = "int8_dot",
    .w4a8 = {NULL, w4a8_1, w4a8_2, w4a8_3, w4a8_4, w4a8_5, w4a8_6},
    .store = qk_store_avx512,
    .quantize_row = qk_quantize_row_int8_avx512,
};
