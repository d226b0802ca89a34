/* E4M3FN encoding, one definition for the CPU and the GPU (nvcc compiles it as device code
 * too): round to nearest even, saturate to ±448; NaN → 0x7F. */
#ifndef QBENCH_KERNELS_E4M3_H
#define QBENCH_KERNELS_E4M3_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define QK_HOST_DEVICE __host__ __device__
#else
#define QK_HOST_DEVICE
#endif

static inline QK_HOST_DEVICE uint8_t qk_e4m3_encode(float f)
{
    if (isnan(f))
        return 0x7f;
    uint8_t sign = signbit(f) ? 0x80 : 0;
    float a = fabsf(f);
    if (a >= 448.0f)
        return sign | 0x7e;
    if (a < 0.015625f) /* subnormal: multiples of 2^-9; 8·2^-9 is the smallest normal */
        return sign | (uint8_t)nearbyintf(a * 512.0f);
    int e;
    frexpf(a, &e);
    int E = e - 1; /* a in [2^E, 2^(E+1)) */
    int q = (int)nearbyintf(ldexpf(a, 3 - E)); /* 8..16 */
    if (q == 16) {
        q = 8;
        E++;
    }
    if (E > 8 || (E == 8 && q > 14))
        return sign | 0x7e;
    return sign | (uint8_t)(((E + 7) << 3) | (q - 8));
}

#endif
