/* Generic C kernels for every scheme: the correctness baseline and the fallback on CPUs
 * without AVX2. Float schemes decode one k-row of a panel (16 channels) to fp32 and
 * accumulate in fp32; integer schemes quantize X per token and accumulate in int32. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/internal.h"

/* Workspace of the float schemes: X as fp32 [M][K], per-row group sums [M][G], and per
 * thread a decode buffer [kc][nc] and an accumulator tile [M][nc]. */
size_t qk_work_float(const qk_problem *p, const qk_config *cfg)
{
    size_t T = (size_t)cfg->v[QK_P_THREADS], kc = cfg->v[QK_P_KC] > 0 ? (size_t)cfg->v[QK_P_KC] : 0;
    size_t nc = cfg->v[QK_P_NC] > 0 ? (size_t)cfg->v[QK_P_NC] : QK_NR;
    return 64 * 4 + 4 * ((size_t)p->m * p->k + (size_t)p->m * qk_groups(p) +
                         T * (kc * nc + (size_t)p->m * nc + 64));
}

/* Activations as the float kernels use them; returns the output factor (fp8: s_x). */
float qk_float_activations(const qk_problem *p, const uint16_t *x, int m, float *xf)
{
    size_t mk = (size_t)m * p->k;
    if (p->scheme == QK_FP8) {
        float inv, s = qk_fp8_act_scale(x, mk, &inv);
        for (size_t i = 0; i < mk; i++)
            xf[i] = qk_e4m3_to_float(qk_float_to_e4m3(qk_half_to_float(x[i]) * inv));
        return s;
    }
    for (size_t i = 0; i < mk; i++)
        xf[i] = qk_half_to_float(x[i]);
    return 1.0f;
}

/* Dequantized weights of channels n0..n0+15 at k (the panel's 16 values). */
static void decode_row(const qk_weights *w, int panel, int k, float out[QK_NR])
{
    const qk_problem *p = &w->p;
    const uint8_t *pb = qk_panel(w, panel);
    int g = qk_problem_group(p), G = qk_groups(p);
    for (int c = 0; c < QK_NR; c++) {
        float v;
        switch (p->scheme) {
        case QK_FP16: v = qk_half_to_float(((const uint16_t *)pb)[(size_t)k * QK_NR + c]); break;
        case QK_W8A16: v = ((const int8_t *)pb)[(size_t)k * QK_NR + c]; break;
        case QK_FP8: v = qk_e4m3_to_float(pb[(size_t)k * QK_NR + c]); break;
        default: { /* w4a16 */
            size_t at = ((size_t)panel * G + k / g) * QK_NR + c;
            float q = (float)qk_int4_at(pb, c, k);
            v = (q - (w->gzero ? w->gzero[at] : 8.0f)) * qk_half_to_float(w->gscale[at]);
        }
        }
        out[c] = v;
    }
}

void qk_store_row(const qk_problem *p, void *y, int r, int n0, const float *v, int count)
{
    size_t at = (size_t)r * p->n + n0;
    if (p->out_f32)
        memcpy((float *)y + at, v, sizeof(float) * (size_t)count);
    else
        for (int c = 0; c < count; c++)
            ((uint16_t *)y)[at + c] = qk_float_to_half(v[c]);
}

void qk_run_float_generic(const qk_run_args *a)
{
    const qk_weights *w = a->w;
    const qk_problem *p = &w->p;
    int M = a->m, K = p->k, T = a->cfg->v[QK_P_THREADS];
    float *xf = a->work;
    float outs = qk_float_activations(p, a->x, M, xf);
    float *tiles = xf + (size_t)M * K + (size_t)M * qk_groups(p);
#pragma omp parallel for num_threads(T) schedule(static)
    for (int panel = 0; panel < w->panels; panel++) {
        float *C = tiles + (size_t)omp_get_thread_num() * ((size_t)M * QK_NR + 16);
        memset(C, 0, sizeof(float) * (size_t)M * QK_NR);
        float row[QK_NR];
        for (int k = 0; k < K; k++) {
            decode_row(w, panel, k, row);
            for (int r = 0; r < M; r++) {
                float xv = xf[(size_t)r * K + k];
                for (int c = 0; c < QK_NR; c++)
                    C[r * QK_NR + c] += xv * row[c];
            }
        }
        int n0 = panel * QK_NR, count = p->n - n0 < QK_NR ? p->n - n0 : QK_NR;
        for (int r = 0; r < M; r++) {
            float out[QK_NR];
            for (int c = 0; c < count; c++)
                out[c] = C[r * QK_NR + c] * qk_channel_scale(w, n0 + c) * outs;
            qk_store_row(p, a->y, r, n0, out, count);
        }
    }
}

/* Workspace of the integer schemes: X as int8 [M][K4*4], row scales [M], per-row group
 * sums [M][G] (int32), and per thread an accumulator tile [M][nc]. */
size_t qk_work_int(const qk_problem *p, const qk_config *cfg)
{
    size_t T = (size_t)cfg->v[QK_P_THREADS], nc = cfg->v[QK_P_NC] > 0 ? (size_t)cfg->v[QK_P_NC] : QK_NR;
    return qk_align64((size_t)p->m * qk_k4(p) * 4) + qk_align64((size_t)p->m * 4) +
           qk_align64((size_t)p->m * qk_groups(p) * 4) + T * qk_align64((size_t)p->m * nc * 4 + 64);
}

qk_int_act qk_int_activations(const qk_problem *p, const uint16_t *x, int m, int threads, void *work)
{
    int K = p->k, K4 = qk_k4(p) * 4, G = qk_groups(p), g = qk_problem_group(p);
    qk_int_act a;
    a.q = work;
    a.s = (float *)((uint8_t *)work + qk_align64((size_t)m * K4));
    a.gsum = (int32_t *)((uint8_t *)a.s + qk_align64((size_t)m * 4));
    a.rest = (uint8_t *)a.gsum + qk_align64((size_t)m * G * 4);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int r = 0; r < m; r++) {
        int8_t *q = a.q + (size_t)r * K4;
        a.s[r] = qk_quantize_row_int8(x + (size_t)r * K, K, q);
        memset(q + K, 0, (size_t)(K4 - K));
        for (int gi = 0; gi < G; gi++) {
            int32_t sum = 0;
            for (int i = 0; i < g; i++)
                sum += q[gi * g + i];
            a.gsum[(size_t)r * G + gi] = sum;
        }
    }
    return a;
}

void qk_run_int_generic(const qk_run_args *a)
{
    const qk_weights *w = a->w;
    const qk_problem *p = &w->p;
    int M = a->m, K = p->k, K4 = qk_k4(p) * 4, G = qk_groups(p), g = qk_problem_group(p);
    qk_int_act act = qk_int_activations(p, a->x, M, a->cfg->v[QK_P_THREADS], a->work);
#pragma omp parallel for num_threads(a->cfg->v[QK_P_THREADS]) schedule(static)
    for (int panel = 0; panel < w->panels; panel++) {
        const uint8_t *pb = qk_panel(w, panel);
        int n0 = panel * QK_NR, count = p->n - n0 < QK_NR ? p->n - n0 : QK_NR;
        for (int r = 0; r < M; r++) {
            const int8_t *q = act.q + (size_t)r * K4;
            float out[QK_NR];
            for (int c = 0; c < count; c++) {
                if (p->scheme == QK_W8A8) {
                    int32_t acc = 0;
                    for (int k = 0; k < K; k++)
                        acc += q[k] * ((const int8_t *)pb)[((size_t)(k / 4) * QK_NR + c) * 4 + k % 4];
                    out[c] = (float)acc * act.s[r] * w->cscale[n0 + c];
                } else {
                    float y = 0;
                    for (int gi = 0; gi < G; gi++) {
                        int32_t acc = 0;
                        for (int k = gi * g; k < (gi + 1) * g; k++)
                            acc += q[k] * qk_int4_at(pb, c, k);
                        size_t at = ((size_t)panel * G + gi) * QK_NR + c;
                        float z = w->gzero ? w->gzero[at] : 8.0f;
                        y += ((float)acc - z * (float)act.gsum[(size_t)r * G + gi]) * qk_half_to_float(w->gscale[at]);
                    }
                    out[c] = y * act.s[r];
                }
            }
            qk_store_row(p, a->y, r, n0, out, count);
        }
    }
}
