/* The blocked loop of the integer schemes (w8a8, w4a8), portable C around the micro-kernels of
 * a family (kernels/internal.h). X is quantized per token inside the call (the one shared
 * definition, qk_quantize_row_int8); threads split N into blocks of nc channels; per block and
 * K block of kc (whole groups for w4a8), the micro-kernel accumulates mr rows at a time; the
 * store applies the row scale (and w8a8's per-channel scale). */
#include <omp.h>
#include <string.h>

#include "kernels/internal.h"

enum { NR_MAX = 64 };

int qk_int_default_kc(const qk_ukr_int *u, const qk_problem *p)
{
    int g = qk_problem_group(p);
    return p->scheme == QK_W4A8 && g < p->k ? (g >= u->kc ? g : u->kc / g * g) : u->kc;
}

static qk_blocking blocking(const qk_kernel *k, const qk_problem *p, const qk_config *cfg)
{
    const qk_ukr_int *u = k->ukr;
    qk_blocking fallback = {.mr = u->mr_max, .kc = qk_int_default_kc(u, p), .nc = u->nc};
    return qk_blocking_of(k, cfg, &fallback);
}

/* Workspace: X as int8 [M][K4*4], row scales [M], per-row group sums [M][G] (int32), and per
 * thread an accumulator tile [M][nc]. */
size_t qk_work_int(const qk_kernel *k, const qk_problem *p, const qk_config *cfg)
{
    qk_blocking b = blocking(k, p, cfg);
    return qk_align64((size_t)p->m * qk_k4(p) * 4) + qk_align64((size_t)p->m * 4) +
           qk_align64((size_t)p->m * qk_groups(p) * 4) + (size_t)b.threads * qk_align64((size_t)p->m * b.nc * 4 + 64);
}

qk_int_act qk_int_activations(const qk_problem *p, const uint16_t *x, int m, int threads, void *work,
                              float (*quantize_row)(const uint16_t *x, int k, int bf16, int8_t *q))
{
    if (!quantize_row)
        quantize_row = qk_quantize_row_int8;
    int K = p->k, K4 = qk_k4(p) * 4, G = qk_groups(p), g = qk_problem_group(p), bf16 = qk_problem_bf16(p);
    qk_int_act a;
    a.q = work;
    a.s = (float *)((uint8_t *)work + qk_align64((size_t)m * K4));
    a.gsum = (int32_t *)((uint8_t *)a.s + qk_align64((size_t)m * 4));
    a.rest = (uint8_t *)a.gsum + qk_align64((size_t)m * G * 4);
#pragma omp parallel for num_threads(threads) schedule(static) if (m > 1)
    for (int r = 0; r < m; r++) {
        int8_t *q = a.q + (size_t)r * K4;
        a.s[r] = quantize_row(x + (size_t)r * K, K, bf16, q);
        memset(q + K, 0, (size_t)(K4 - K));
        if (p->scheme == QK_W4A8)
            for (int gi = 0; gi < G; gi++) {
                int32_t sum = 0;
                for (int i = 0; i < g; i++)
                    sum += q[gi * g + i];
                a.gsum[(size_t)r * G + gi] = sum;
            }
    }
    return a;
}

void qk_run_int(const qk_run_args *a)
{
    const qk_ukr_int *u = a->kernel->ukr;
    const qk_weights *w = a->w;
    qk_problem p = w->p;
    p.m = a->m;
    qk_blocking b = blocking(a->kernel, &p, a->cfg);
    const int M = a->m, T = b.threads, MR = b.mr, nc = b.nc, nr = w->nr;
    const int ncp = nc / nr, K4 = qk_k4(&p) * 4, G = qk_groups(&p), g = qk_problem_group(&p);
    const int w8 = p.scheme == QK_W8A8, Kp = w8 ? K4 : p.k;
    int kc = b.kc;
    if (!w8 && g == p.k)
        kc = p.k; /* one group per channel: a K block must hold it whole */
    kc = kc < Kp ? kc : Kp;
    qk_int_act act = qk_int_activations(&p, a->x, M, T, a->work, u->quantize_row);
    if (w8 && u->w8a8_offset) { /* x + 128 as u8: flip the sign bit */
        uint8_t *q = (uint8_t *)act.q;
        for (size_t i = 0; i < (size_t)M * K4; i++)
            q[i] ^= 0x80;
    }
    const int nblocks = (w->panels + ncp - 1) / ncp;
    const size_t pbytes = qk_panel_bytes(&p, nr);
#pragma omp parallel num_threads(T)
    {
        uint8_t *Cb = (uint8_t *)act.rest + (size_t)omp_get_thread_num() * qk_align64((size_t)M * nc * 4 + 64);
#pragma omp for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            int p0 = blk * ncp, np = w->panels - p0 < ncp ? w->panels - p0 : ncp;
            for (int r = 0; r < M; r++)
                memset(Cb + (size_t)r * nc * 4, 0, (size_t)np * nr * 4);
            /* Small X (it stays in L2): each panel from its first k to its last, so the weights
             * stream through memory in order; large X: each K block of X passes over every panel
             * of the N block, a panel's K block staying in L1 meanwhile. */
            const int panel_major = (size_t)M * K4 <= (256u << 10);
            const int outer = panel_major ? np : (Kp + kc - 1) / kc, inner = panel_major ? (Kp + kc - 1) / kc : np;
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++) {
                    const int j = panel_major ? o : i, kb = (panel_major ? i : o) * kc;
                    const int kl = Kp - kb < kc ? Kp - kb : kc;
                    /* where this K block of the panel starts (w8a8: kb/4 quads; w4a8: kb/8 octets) */
                    const size_t off = w8 ? (size_t)kb * nr : (size_t)kb / 8 * nr * 4;
                    const uint8_t *pb = (const uint8_t *)w->q + (size_t)(p0 + j) * pbytes + off;
                    for (int r0 = 0; r0 < M; r0 += MR) {
                        int mr = M - r0 < MR ? M - r0 : MR;
                        const int8_t *A = act.q + (size_t)r0 * K4 + kb;
                        if (w8)
                            u->w8a8[mr](kl, A, K4, (const int8_t *)pb, (int32_t *)Cb + (size_t)r0 * nc + j * nr, nc);
                        else
                            u->w4a8[mr](kl, A, K4, pb, (float *)Cb + (size_t)r0 * nc + j * nr, nc, w,
                                        ((size_t)(p0 + j) * G + kb / g) * nr, g, act.gsum + (size_t)r0 * G + kb / g,
                                        G);
                    }
                }
            const int n0 = p0 * nr, count = p.n - n0 < np * nr ? p.n - n0 : np * nr;
            for (int r = 0; r < M; r++) {
                if (w8) { /* (acc − 128·Σw) · s_m · s_n */
                    u->store_s32(&p, a->y, r, n0, count, (int32_t *)Cb + (size_t)r * nc, u->w8a8_offset ? 128 : 0,
                                 w->csum, act.s[r], w->cscale);
                    continue;
                }
                float post[NR_MAX]; /* w4a8: the groups are scaled; the token's scale is left */
                for (int c = 0; c < nr; c++)
                    post[c] = act.s[r];
                for (int j = 0; j < np; j++)
                    u->store(&p, a->y, r, (p0 + j) * nr, nr, (float *)Cb + (size_t)r * nc + j * nr, post);
            }
        }
    }
}
