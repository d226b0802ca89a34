/* LLM-like random data: heavy tails and a few outlier activation channels; never zeros. */
#include <math.h>
#include <stdlib.h>

#include "kernels/qk.h"

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { return ((splitmix(s) >> 11) + 0.5) * 0x1p-53; }

static double gauss(uint64_t *s)
{
    return sqrt(-2.0 * log(uniform(s))) * cos(6.283185307179586 * uniform(s));
}

/* A Gaussian mixture: (1 − p) N(0,1) + p N(0,t²): kurtosis well above a Gaussian's. */
static double heavy(uint64_t *s, double p, double t) { return gauss(s) * (uniform(s) < p ? t : 1.0); }

void qk_fill_weights(float *w, size_t count, uint64_t seed)
{
    uint64_t s = seed * 0x2545f4914f6cdd1dull + 1;
    for (size_t i = 0; i < count; i++)
        w[i] = (float)(0.02 * heavy(&s, 0.01, 3.0));
}

void qk_fill_activations(uint16_t *x16, float *x32, int m, int k, int bf16, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 7;
    /* ~0.1% of channels, at least one, 20–100× the typical magnitude, same channels every row */
    int n_out = k / 1000 > 1 ? k / 1000 : 1;
    float *mag = malloc(sizeof(float) * (size_t)k);
    for (int i = 0; i < k; i++)
        mag[i] = 1.0f;
    for (int j = 0; j < n_out; j++)
        mag[splitmix(&s) % (uint64_t)k] = (float)(20.0 + 80.0 * uniform(&s));
    for (int r = 0; r < m; r++)
        for (int i = 0; i < k; i++) {
            size_t at = (size_t)r * k + i;
            uint16_t h = qk_float_to_x16(bf16, (float)(heavy(&s, 0.02, 4.0) * mag[i]));
            x16[at] = h;
            if (x32)
                x32[at] = qk_x16_to_float(bf16, h);
        }
    free(mag);
}
