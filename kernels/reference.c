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

double qk_relative_error(const qk_problem *p, const void *y, const double *ref, int rows, const int *rows_at,
                         int cols, const int *cols_at)
{
    double num = 0, den = 0;
    const int bf16 = qk_problem_bf16(p);
    if (!cols_at)
        cols = p->n;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            size_t at = (size_t)(rows_at ? rows_at[i] : i) * p->n + (cols_at ? cols_at[j] : j);
            double v = p->out_f32 ? ((const float *)y)[at] : qk_x16_to_float(bf16, ((const uint16_t *)y)[at]);
            double r = ref[(size_t)i * cols + j], d = v - r;
            num += d * d;
            den += r * r;
        }
    if (!isfinite(num))
        return INFINITY;
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* fp16 rounds to 2^-11 of a value, bf16 to 2^-8 */
double qk_error_limit(const qk_problem *p) { return p->out_f32 ? 2e-5 : qk_problem_bf16(p) ? 8e-3 : 1e-3; }

void qk_smooth(int m, int n, int k, float alpha, int bf16, uint16_t *x16, float *w)
{
    for (int i = 0; i < k; i++) {
        float xmax = 0, wmax = 0;
        for (int r = 0; r < m; r++)
            xmax = fmaxf(xmax, fabsf(qk_x16_to_float(bf16, x16[(size_t)r * k + i])));
        for (int c = 0; c < n; c++)
            wmax = fmaxf(wmax, fabsf(w[(size_t)c * k + i]));
        if (xmax <= 0 || wmax <= 0)
            continue;
        float s = powf(xmax, alpha) / powf(wmax, 1.0f - alpha);
        for (int r = 0; r < m; r++)
            x16[(size_t)r * k + i] = qk_float_to_x16(bf16, qk_x16_to_float(bf16, x16[(size_t)r * k + i]) / s);
        for (int c = 0; c < n; c++)
            w[(size_t)c * k + i] *= s;
    }
}
