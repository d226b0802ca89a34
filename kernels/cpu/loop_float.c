/* The blocked loop of the float schemes (fp16, w8a16, w4a16, fp8), portable C around the
 * micro-kernels of a family (kernels/internal.h):
 *  - small M (predequant = 0): threads split the panels; per panel, mr rows of X at a time,
 *    the micro-kernel decodes the weights in registers over the whole K; the loop applies
 *    the per-channel (and fp8 per-tensor) scales when it stores;
 *  - large M (predequant = 1): threads split N into blocks of nc channels; per block and K
 *    block of kc, the weights are dequantized exactly to fp32 once (decode), then the fp32
 *    micro-kernel runs over every row of X, mr rows at a time. */
#include <omp.h>
#include <string.h>

#include "kernels/internal.h"

enum { NR_MAX = 64 };

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

void qk_store_row(const qk_problem *p, void *y, int r, int n0, const float *v, int count)
{
    size_t at = (size_t)r * p->n + n0;
    if (p->out_f32)
        memcpy((float *)y + at, v, sizeof(float) * (size_t)count);
    else
        for (int c = 0; c < count; c++)
            ((uint16_t *)y)[at + c] = qk_float_to_half(v[c]);
}

void qk_store_generic(const qk_problem *p, void *y, int r, int n0, int nr, const float *v, const float *post)
{
    float t[NR_MAX];
    int count = p->n - n0 < nr ? p->n - n0 : nr;
    for (int c = 0; c < count; c++)
        t[c] = v[c] * post[c];
    qk_store_row(p, y, r, n0, t, count);
}

void qk_store_s32_generic(const qk_problem *p, void *y, int r, int n0, int count, const int32_t *acc, int off,
                          const int32_t *csum, float s_row, const float *cscale)
{
    float t[NR_MAX];
    for (int c0 = 0; c0 < count; c0 += NR_MAX) {
        int cn = count - c0 < NR_MAX ? count - c0 : NR_MAX;
        for (int c = 0; c < cn; c++)
            t[c] = (float)(acc[c0 + c] - off * csum[n0 + c0 + c]) * s_row * cscale[n0 + c0 + c];
        qk_store_row(p, y, r, n0 + c0, t, cn);
    }
}

static qk_blocking blocking(const qk_kernel *k, const qk_config *cfg)
{
    const qk_ukr_float *u = k->ukr;
    qk_blocking fallback = {.mr = u->small ? u->small->mr_max : 1, .kc = 256, .nc = 4 * u->large->nr,
                            .predequant = u->small == NULL};
    return qk_blocking_of(k, cfg, &fallback);
}

/* Workspace: X as fp32 [M][K], per thread a decode buffer [kc][nc] and an accumulator tile
 * [M][nc], then what the small family prepares. */
static size_t tiles_floats(const qk_problem *p, const qk_blocking *b)
{
    return (size_t)b->threads * ((size_t)b->kc * b->nc + (size_t)p->m * b->nc + 64);
}

size_t qk_work_float(const qk_kernel *k, const qk_problem *p, const qk_config *cfg)
{
    const qk_ukr_float *u = k->ukr;
    qk_blocking b = blocking(k, cfg);
    size_t floats = (size_t)p->m * p->k + tiles_floats(p, &b);
    size_t extra = u->small && u->small->extra_per_row ? (size_t)p->m * u->small->extra_per_row(p) : 0;
    return qk_align64(4 * floats) + extra + 128;
}

const char *qk_format_float(const qk_kernel *k, const qk_config *cfg)
{
    const qk_ukr_float *u = k->ukr;
    return blocking(k, cfg).predequant || !u->small ? u->large->format : u->small->format;
}

static void run_small(const qk_run_args *a, const qk_ukr_float *u, const qk_blocking *b)
{
    const qk_weights *w = a->w;
    qk_problem p = w->p;
    p.m = a->m;
    const qk_float_small *s = u->small;
    const int M = a->m, K = p.k, G = qk_groups(&p), nr = w->nr;
    float *xf = a->work;
    void *extra = (uint8_t *)a->work + qk_align64(4 * ((size_t)M * K + tiles_floats(&p, b)));
    float outs;
    if (s->prepare)
        outs = s->prepare(&p, a->x, M, extra);
    else if (p.scheme != QK_FP8 && u->large->load_x) {
        u->large->load_x(a->x, (size_t)M * K, xf);
        outs = 1.0f;
    } else {
        outs = qk_float_activations(&p, a->x, M, xf);
    }
    const qk_xf xv = {.x = xf, .extra = extra, .stride = s->extra_per_row ? s->extra_per_row(&p) : 0, .k = K, .G = G};
    const int MR = b->mr;
#pragma omp parallel for num_threads(b->threads) schedule(static)
    for (int panel = 0; panel < w->panels; panel++) {
        float y[QK_MR_SMALL * NR_MAX], post[NR_MAX];
        int n0 = panel * nr;
        for (int c = 0; c < nr; c++)
            post[c] = (n0 + c < p.n ? qk_channel_scale(w, n0 + c) : 0.0f) * outs;
        for (int r0 = 0; r0 < M; r0 += MR) {
            int mr = M - r0 < MR ? M - r0 : MR;
            s->run[p.scheme][mr](w, panel, &xv, r0, y);
            for (int r = 0; r < mr; r++)
                u->large->store(&p, a->y, r0 + r, n0, nr, y + r * nr, post);
        }
    }
}

static void run_large(const qk_run_args *a, const qk_ukr_float *u, const qk_blocking *b)
{
    const qk_weights *w = a->w;
    qk_problem p = w->p;
    p.m = a->m;
    const qk_float_large *L = u->large;
    const int M = a->m, K = p.k, nr = w->nr;
    float *xf = a->work, *tiles = xf + (size_t)M * K;
    float outs;
    if (p.scheme != QK_FP8 && L->load_x) {
        L->load_x(a->x, (size_t)M * K, xf);
        outs = 1.0f;
    } else {
        outs = qk_float_activations(&p, a->x, M, xf);
    }
    const int kc = b->kc, nc = b->nc, ncp = nc / nr, MR = L->mr;
    const int nblocks = (w->panels + ncp - 1) / ncp;
    float post[NR_MAX];
    for (int c = 0; c < nr; c++)
        post[c] = outs;
#pragma omp parallel num_threads(b->threads)
    {
        float *B = tiles + (size_t)omp_get_thread_num() * ((size_t)kc * nc + (size_t)M * nc + 64);
        float *C = B + (size_t)kc * nc;
#pragma omp for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            int p0 = blk * ncp, np = w->panels - p0 < ncp ? w->panels - p0 : ncp;
            for (int r = 0; r < M; r++)
                memset(C + (size_t)r * nc, 0, sizeof(float) * (size_t)np * nr);
            for (int kb = 0; kb < K; kb += kc) {
                int kl = K - kb < kc ? K - kb : kc;
                for (int j = 0; j < np; j++)
                    L->decode[p.scheme](w, p0 + j, kb, kl, B + (size_t)j * kc * nr);
                for (int r0 = 0; r0 < M; r0 += MR) {
                    int mr = M - r0 < MR ? M - r0 : MR;
                    for (int j = 0; j < np; j++)
                        L->gemm[mr](kl, xf + (size_t)r0 * K + kb, K, B + (size_t)j * kc * nr,
                                    C + (size_t)r0 * nc + j * nr, nc);
                }
            }
            for (int r = 0; r < M; r++)
                for (int j = 0; j < np; j++)
                    L->store(&p, a->y, r, (p0 + j) * nr, nr, C + (size_t)r * nc + j * nr, post);
        }
    }
}

void qk_run_float(const qk_run_args *a)
{
    const qk_ukr_float *u = a->kernel->ukr;
    qk_blocking b = blocking(a->kernel, a->cfg);
    if (!b.predequant && u->small)
        run_small(a, u, &b);
    else
        run_large(a, u, &b);
}
