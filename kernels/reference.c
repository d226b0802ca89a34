/* fp64 references and the error measure. */
#include <math.h>

#include "kernels/qk.h"

void qk_reference_gemm(int m, int n, int k, const float *x, const float *w, double *y)
{
#pragma omp parallel for schedule(dynamic, 1)
    for (int r = 0; r < m; r++) {
        const float *xr = x + (size_t)r * k;
        for (int c = 0; c < n; c++) {
            const float *wc = w + (size_t)c * k;
            double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            int i = 0;
            for (; i + 4 <= k; i += 4) {
                a0 += (double)xr[i] * wc[i];
                a1 += (double)xr[i + 1] * wc[i + 1];
                a2 += (double)xr[i + 2] * wc[i + 2];
                a3 += (double)xr[i + 3] * wc[i + 3];
            }
            for (; i < k; i++)
                a0 += (double)xr[i] * wc[i];
            y[(size_t)r * n + c] = (a0 + a1) + (a2 + a3);
        }
    }
}

double qk_relative_error(const qk_problem *p, const void *y, const double *ref)
{
    double num = 0, den = 0;
    size_t count = (size_t)p->m * p->n;
    for (size_t i = 0; i < count; i++) {
        double v = p->out_f32 ? ((const float *)y)[i] : qk_half_to_float(((const uint16_t *)y)[i]);
        double d = v - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    if (!isfinite(num))
        return INFINITY;
    return den > 0 ? sqrt(num / den) : sqrt(num);
}
