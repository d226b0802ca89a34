/* The blocked loop of the float schemes (fp16, w8a16, w4a16, fp8, bf16), portable C around the
 * micro-kernels of a family (kernels/internal.h):
 *  - small M (predequant = 0): threads split the panels; per panel, mr rows of X at a time,
 *    the micro-kernel decodes the weights in registers over the whole K; the loop applies
 *    the per-channel (and fp8 per-tensor) scales when it stores;
 *  - large M (predequant = 1): threads split N into blocks of nc channels; per block and K
 *    block of kc, the weights are dequantized exactly to fp32 once (decode), then the fp32
 *    micro-kernel runs over every row of X, mr rows at a time;
 *  - large M, bf16 on a family with a bf16 dot product (run_dot): the packed k-pairs are
 *    multiplied as they are, nothing decoded;
 *  - large M on a family with a dot path beside (predequant = 2, run_dot): w8a16 and fp8
 *    weights are decoded exactly to bf16 k-pairs once per K block, for X exact in bf16. */
#include <omp.h>
#include <string.h>

#include "kernels/internal.h"

enum { NR_MAX = 64 };

/* Activations as the float kernels use them; returns the output factor (fp8: s_x). */
float qk_float_activations(const qk_problem *p, const uint16_t *x, int m, float *xf)
{
    size_t mk = (size_t)m * p->k;
    const int bf16 = qk_problem_bf16(p);
    if (p->scheme == QK_FP8) {
        float inv, s = qk_fp8_act_scale(x, mk, bf16, &inv);
        for (size_t i = 0; i < mk; i++)
            xf[i] = qk_e4m3_to_float(qk_float_to_e4m3(qk_x16_to_float(bf16, x[i]) * inv));
        return s;
    }
    for (size_t i = 0; i < mk; i++)
        xf[i] = qk_x16_to_float(bf16, x[i]);
    return 1.0f;
}

void qk_store_row(const qk_problem *p, void *y, int r, int n0, const float *v, int count)
{
    size_t at = (size_t)r * p->n + n0;
    const int bf16 = qk_problem_bf16(p);
    if (p->out_f32)
        memcpy((float *)y + at, v, sizeof(float) * (size_t)count);
    else
        for (int c = 0; c < count; c++)
            ((uint16_t *)y)[at + c] = qk_float_to_x16(bf16, v[c]);
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
    qk_blocking fallback = {.mr = u->small ? u->small->mr_max : 1, .kc = u->large->kc, .nc = u->large->nc,
                            .predequant = u->small == NULL};
    return qk_blocking_of(k, cfg, &fallback);
}

/* Rows of X padded to whole row tiles of the large path. */
static size_t mpad(const qk_ukr_float *u, int m) { return (size_t)(m + u->large->mr - 1) / u->large->mr * u->large->mr; }

/* Workspace: X as fp32 [M][K], X packed for the large path [Mpad·K], per thread a decode buffer
 * [kc][nc] and an accumulator tile [M][nc], then what the small family prepares. */
static size_t tiles_floats(const qk_problem *p, const qk_blocking *b)
{
    return (size_t)b->threads * ((size_t)b->kc * b->nc + (size_t)p->m * b->nc + 64);
}

size_t qk_work_float(const qk_kernel *k, const qk_problem *p, const qk_config *cfg)
{
    const qk_ukr_float *u = k->ukr;
    qk_blocking b = blocking(k, cfg);
    size_t floats = (size_t)p->m * p->k + mpad(u, p->m) * p->k + tiles_floats(p, &b);
    size_t extra = u->small && u->small->extra_per_row ? (size_t)p->m * u->small->extra_per_row(p) : 0;
    return qk_align64(4 * floats) + extra + 128;
}

const char *qk_format_float(const qk_kernel *k, const qk_config *cfg)
{
    const qk_ukr_float *u = k->ukr;
    const int pd = blocking(k, cfg).predequant;
    return pd == 2 && u->dot ? u->dot->format : pd || !u->small ? u->large->format : u->small->format;
}

int qk_float_dot_exact(const qk_ukr_float *u, const qk_problem *p)
{
    return u->dot && u->dot->pairs[p->scheme] && (p->scheme == QK_FP8 || qk_problem_bf16(p));
}

static void run_small(const qk_run_args *a, const qk_ukr_float *u, const qk_blocking *b)
{
    const qk_weights *w = a->w;
    qk_problem p = w->p;
    p.m = a->m;
    const qk_float_small *s = u->small;
    const int M = a->m, K = p.k, G = qk_groups(&p), nr = w->nr;
    float *xf = a->work;
    void *extra = (uint8_t *)a->work + qk_align64(4 * ((size_t)M * K + mpad(u, M) * K + tiles_floats(&p, b)));
    float outs;
    if (s->prepare)
        outs = s->prepare(&p, a->x, M, extra);
    else
        outs = (u->large->activations ? u->large->activations : qk_float_activations)(&p, a->x, M, xf);
    const qk_xf xv = {.x = xf, .extra = extra, .stride = s->extra_per_row ? s->extra_per_row(&p) : 0, .k = K, .G = G};
    const int MR = b->mr, g = qk_problem_group(&p);
    /* more rows than one register tile: a panel's K block of about 256 KiB (whole groups) stays
     * in L2 while each tile of rows passes over it, so the weights come from memory once */
    int kcs = K;
    if (M > MR) {
        const size_t row_bytes = qk_panel_bytes(&p, nr) / (size_t)K;
        kcs = (int)((256u << 10) / row_bytes) / g * g;
        kcs = kcs < g ? g : kcs > K ? K : kcs;
    }
    float *tiles = xf + (size_t)M * K + mpad(u, M) * K;
#pragma omp parallel num_threads(b->threads)
    {
        float *y = tiles + (size_t)omp_get_thread_num() * ((size_t)b->kc * b->nc + (size_t)M * b->nc + 64);
        qk_xf xb = xv;
#pragma omp for schedule(static)
        for (int panel = 0; panel < w->panels; panel++) {
            float post[NR_MAX];
            const int n0 = panel * nr;
            for (int c = 0; c < nr; c++)
                post[c] = (n0 + c < p.n ? qk_channel_scale(w, n0 + c) : 0.0f) * outs;
            memset(y, 0, sizeof(float) * (size_t)M * nr);
            for (xb.k0 = 0; xb.k0 < K; xb.k0 += kcs) {
                xb.k1 = K - xb.k0 < kcs ? K : xb.k0 + kcs;
                for (int r0 = 0; r0 < M; r0 += MR)
                    s->run[p.scheme][M - r0 < MR ? M - r0 : MR](w, panel, &xb, r0, y + (size_t)r0 * nr);
            }
            for (int r = 0; r < M; r++)
                u->large->store(&p, a->y, r, n0, nr, y + (size_t)r * nr, post);
        }
    }
}

static void run_large(const qk_run_args *a, const qk_ukr_float *u, const qk_blocking *b)
{
    const qk_weights *w = a->w;
    qk_problem p = w->p;
    p.m = a->m;
    const qk_float_large *L = u->large;
    const int M = a->m, K = p.k, nr = w->nr, NRL = L->nr;
    const int kc = b->kc, nc = b->nc, ncp = nc / nr, MR = L->mr;
    const size_t Mp = mpad(u, M);
    float *xf = a->work, *xp = xf + (size_t)M * K, *tiles = xp + Mp * K;
    const float outs = (L->activations ? L->activations : qk_float_activations)(&p, a->x, M, xf);
    /* X packed once per call: per K block, per row tile, [kl][MR] (padded rows are zeros), so
     * that a micro-kernel reads its activations in order */
#pragma omp parallel for num_threads(b->threads) schedule(static)
    for (int kb = 0; kb < K; kb += kc) {
        const int kl = K - kb < kc ? K - kb : kc;
        for (size_t r0 = 0; r0 < Mp; r0 += (size_t)MR) {
            float *t = xp + (size_t)kb * Mp + r0 * kl;
            for (int r = 0; r < MR; r++) {
                const float *row = r0 + r < (size_t)M ? xf + (r0 + r) * K + kb : NULL;
                for (int k = 0; k < kl; k++)
                    t[(size_t)k * MR + r] = row ? row[k] : 0.0f;
            }
        }
    }
    const int nblocks = (w->panels + ncp - 1) / ncp;
    const size_t row_bytes = qk_panel_bytes(&p, nr) / (size_t)K; /* a panel's bytes per k */
    float post[NR_MAX];
    for (int c = 0; c < NR_MAX; c++)
        post[c] = outs;
#pragma omp parallel num_threads(b->threads)
    {
        /* B: a K block of the N block's weights, [kc][nc]; C: its outputs, [M][nc] */
        float *B = tiles + (size_t)omp_get_thread_num() * ((size_t)kc * nc + (size_t)M * nc + 64);
        float *C = B + (size_t)kc * nc;
#pragma omp for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            const int p0 = blk * ncp, np = w->panels - p0 < ncp ? w->panels - p0 : ncp;
            const int width = (np * nr + NRL - 1) / NRL * NRL; /* whole micro-kernel widths */
            for (int r = 0; r < M; r++)
                memset(C + (size_t)r * nc, 0, sizeof(float) * (size_t)width);
            for (int kb = 0; kb < K; kb += kc) {
                const int kl = K - kb < kc ? K - kb : kc;
                for (int j = 0; j < np; j++)
                    L->decode[p.scheme](w, p0 + j, kb, kl, B + (size_t)j * nr, nc);
                if (width > np * nr) /* past the last panel: zeros, never stored */
                    for (int k = 0; k < kl; k++)
                        memset(B + (size_t)k * nc + np * nr, 0, sizeof(float) * (size_t)(width - np * nr));
                /* the weights decoded next (the next K block here, else the next N block's first),
                 * prefetched a share per micro-kernel call: their lines come in while this block
                 * computes instead of stalling the next decode */
                const int nkb = kb + kc < K ? kb + kc : 0, p2 = nkb ? p0 : p0 + ncp;
                const int np2 = nkb ? np : blk + 1 < nblocks ? (w->panels - p2 < ncp ? w->panels - p2 : ncp) : 0;
                const int kl2 = K - nkb < kc ? K - nkb : kc;
                const size_t run = (size_t)kl2 * row_bytes, per = (run + 63) / 64, lines = per * (size_t)np2;
                const size_t calls = (size_t)(width / NRL) * (size_t)((M + MR - 1) / MR);
                const size_t share = (lines + calls - 1) / calls;
                size_t pj = 0, in = 0, left = lines; /* the cursor: panel, line within its run */
                /* a micro-kernel width of B stays in L1 while every row tile of X passes over it */
                for (int jj = 0; jj < width; jj += NRL)
                    for (int r0 = 0; r0 < M; r0 += MR) {
                        for (size_t e = 0; e < share && left; e++, left--) {
                            __builtin_prefetch(qk_panel(w, p2 + (int)pj) + (size_t)nkb * row_bytes + in * 64, 0, 3);
                            if (++in == per)
                                in = 0, pj++;
                        }
                        const int mr = M - r0 < MR ? M - r0 : MR;
                        L->gemm[mr](kl, xp + (size_t)kb * Mp + (size_t)r0 * kl, B + jj, nc, C + (size_t)r0 * nc + jj,
                                    nc);
                    }
            }
            for (int r = 0; r < M; r++)
                for (int j = 0; j < np; j++)
                    L->store(&p, a->y, r, (p0 + j) * nr, nr, C + (size_t)r * nc + j * nr, post);
        }
    }
}

/* A family that multiplies bf16 k-pairs (L): the bf16 scheme's panels as packed, or (L->pairs)
 * the weights decoded to pairs once per K block of a panel, into a buffer beside the thread's
 * accumulators; the scales at the store. X's k-pairs where X lies when it is bf16 with an even
 * K (a pair is the 32-bit word X holds there), else made once into rows of (K + 1) / 2 words
 * with a zero upper half at the end (fp8: from its e4m3 values); threads split N into blocks
 * of nc. */
static void run_dot(const qk_run_args *a, const qk_ukr_float *u, const qk_float_large *L, const qk_blocking *b)
{
    const qk_weights *w = a->w;
    qk_problem p = w->p;
    p.m = a->m;
    const int M = a->m, K = p.k, KP = (K + 1) / 2, nr = w->nr, MR = L->mr, fp8 = p.scheme == QK_FP8;
    const int kcp = b->kc / 2, nc = b->nc, ncp = nc / nr;
    const size_t Mp = mpad(u, M);
    /* the decode path's workspace: X as fp32 (fp8), X's pairs where the packed X would be */
    float *xf = a->work, *tiles = xf + (size_t)M * K + Mp * K;
    uint32_t *xp = (uint32_t *)(xf + (size_t)M * K);
    const uint32_t *xw = (const uint32_t *)(const void *)a->x;
    float outs = 1.0f;
    if (fp8)
        outs = (u->large->activations ? u->large->activations : qk_float_activations)(&p, a->x, M, xf);
    if (fp8 || K % 2 || (uintptr_t)a->x % 4) {
#pragma omp parallel for num_threads(b->threads) schedule(static)
        for (int r = 0; r < M; r++)
            for (int j = 0; j < KP; j++) {
                uint32_t lo, hi = 0; /* e4m3 values have 4 significant bits: the upper half of the fp32 */
                if (fp8) {
                    const float *row = xf + (size_t)r * K;
                    memcpy(&lo, &row[2 * j], 4);
                    if (2 * j + 1 < K)
                        memcpy(&hi, &row[2 * j + 1], 4);
                    lo >>= 16, hi &= 0xffff0000u;
                } else {
                    const uint16_t *row = a->x + (size_t)r * K;
                    lo = row[2 * j], hi = 2 * j + 1 < K ? (uint32_t)row[2 * j + 1] << 16 : 0;
                }
                xp[(size_t)r * KP + j] = lo | hi;
            }
        xw = xp;
    }
    const int nblocks = (w->panels + ncp - 1) / ncp;
#pragma omp parallel num_threads(b->threads)
    {
        float *C = tiles + (size_t)omp_get_thread_num() * ((size_t)b->kc * nc + (size_t)M * nc + 64);
        uint32_t *D = (uint32_t *)(C + (size_t)M * nc); /* a panel's K block as pairs: kcp × nr words */
        float post[NR_MAX];
#pragma omp for schedule(dynamic, 1) /* the cores of a VM run at unequal speeds */
        for (int blk = 0; blk < nblocks; blk++) {
            const int p0 = blk * ncp, np = w->panels - p0 < ncp ? w->panels - p0 : ncp;
            for (int kb = 0; kb < KP; kb += kcp) {
                const int kl = KP - kb < kcp ? KP - kb : kcp, last = kb + kcp >= KP;
                /* a panel's K block stays in cache while every row tile of X passes over it; the
                 * last K block writes Y from the registers */
                for (int j = 0; j < np; j++) {
                    const int n0 = (p0 + j) * nr;
                    const uint32_t *B = (const uint32_t *)qk_panel(w, p0 + j) + (size_t)kb * nr;
                    if (L->pairs[p.scheme]) {
                        L->pairs[p.scheme](w, p0 + j, kb, kl, D);
                        B = D;
                        for (int c = 0; last && c < nr; c++)
                            post[c] = (n0 + c < p.n ? qk_channel_scale(w, n0 + c) : 0.0f) * outs;
                    }
                    /* the K block read next (the next panel's, else the next K block's), a 64-byte
                     * line per k-pair of each row tile fetched while the tile computes: the
                     * decode, or the first row tile, finds it in the cache */
                    const int nj = j + 1 < np ? j + 1 : 0, nkb = j + 1 < np ? kb : kb + kcp;
                    const size_t row = (size_t)nr * (L->pairs[p.scheme] ? 2 : 4); /* bytes per k-pair */
                    const size_t next_bytes = nkb < KP ? (size_t)(KP - nkb < kcp ? KP - nkb : kcp) * row : 0;
                    const char *next = next_bytes ? (const char *)qk_panel(w, p0 + nj) + nkb * row : NULL;
                    for (int r0 = 0; r0 < M; r0 += MR) {
                        const size_t at = (size_t)(r0 / MR) * kl * 64;
                        const qk_dot_out out = {(uint8_t *)a->y + ((size_t)r0 * p.n + n0) * (p.out_f32 ? 4 : 2),
                                                (size_t)p.n, p.n - n0 < nr ? p.n - n0 : nr, p.out_f32,
                                                qk_problem_bf16(&p), L->pairs[p.scheme] ? post : NULL};
                        L->dot[M - r0 < MR ? M - r0 : MR](kl, xw + (size_t)r0 * KP + kb, (size_t)KP, B,
                                                          C + (size_t)r0 * nc + j * nr, nc, kb == 0, last ? &out : NULL,
                                                          at < next_bytes ? next + at : NULL);
                    }
                }
            }
        }
    }
}

void qk_run_float(const qk_run_args *a)
{
    const qk_ukr_float *u = a->kernel->ukr;
    qk_blocking b = blocking(a->kernel, a->cfg);
    if (!b.predequant && u->small)
        run_small(a, u, &b);
    else if (b.predequant == 2 && u->dot)
        run_dot(a, u, u->dot, &b);
    else if (a->w->p.scheme == QK_BF16 && u->large->dot[1])
        run_dot(a, u, u->large, &b);
    else
        run_large(a, u, &b);
}
