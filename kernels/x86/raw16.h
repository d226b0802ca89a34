/* One row of a 64-channel float panel as raw fp32 values, shared by the AVX-512 families
 * (ukr_avx512.c decodes with it; ukr_avx512bf16.c turns it into bf16 k-pairs). */
#ifndef QBENCH_KERNELS_X86_RAW16_H
#define QBENCH_KERNELS_X86_RAW16_H
#include <immintrin.h>
#include <stdint.h>

#include "kernels/qk.h"

/* Raw values of channels 16j .. 16j+15 of row k of a 64-channel panel (fp8 as e4m3·2^-120;
 * w8a16 before its channel scale). */
static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))) __m512
qk_raw16(qk_scheme S, const uint8_t *pb, int k, int j)
{
    if (S == QK_BF16) { /* a k-pair per 32-bit word: the even k in the low half */
        const __m512i v = _mm512_loadu_si512(pb + (size_t)(k / 2) * 4 * 64 + 64 * j);
        return _mm512_castsi512_ps(k % 2 ? _mm512_and_si512(v, _mm512_set1_epi32((int)0xffff0000u))
                                         : _mm512_slli_epi32(v, 16));
    }
    if (S == QK_FP16)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pb + (size_t)k * 2 * 64 + 32 * j)));
    const __m128i b = _mm_loadu_si128((const __m128i *)(pb + (size_t)k * 64 + 16 * j));
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

#endif
