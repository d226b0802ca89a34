/* Quantize and pack weights into the panel layouts documented in qk.h; dequantize back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/internal.h"

static int8_t q8(float v, float s) { return (int8_t)fmaxf(-127.0f, fminf(127.0f, nearbyintf(v / s))); }

/* int4 for one (channel, group): writes q (0..15) and returns the fp16 scale; *z the zero. */
static uint16_t quant_group4(const float *w, int g, int asym, uint8_t *q, uint8_t *z)
{
    float lo = w[0], hi = w[0];
    for (int i = 1; i < g; i++) {
        lo = fminf(lo, w[i]);
        hi = fmaxf(hi, w[i]);
    }
    float s;
    int zero;
    if (asym) {
        s = (hi - lo) / 15.0f;
    } else {
        s = fmaxf(fabsf(lo), fabsf(hi)) / 7.0f;
    }
    uint16_t s16 = qk_float_to_half(s > 0 ? s : 1.0f);
    s = qk_half_to_float(s16); /* quantize with the scale that is stored */
    zero = asym ? (int)fmaxf(0.0f, fminf(15.0f, nearbyintf(-lo / s))) : 8;
    for (int i = 0; i < g; i++)
        q[i] = (uint8_t)fmaxf(0.0f, fminf(15.0f, nearbyintf(w[i] / s) + (float)zero));
    *z = (uint8_t)zero;
    return s16;
}

int qk_weights_pack(const qk_problem *p, const float *w, qk_weights *out, qc_msgs *err)
{
    memset(out, 0, sizeof *out);
    int rc = qk_problem_check(p, err);
    if (rc)
        return rc;
    out->p = *p;
    int N = p->n, K = p->k, P = (N + QK_NR - 1) / QK_NR, G = qk_groups(p), g = qk_problem_group(p);
    out->panels = P;
    out->q_bytes = qk_panel_bytes(p) * (size_t)P;
    out->q = qk_alloc(out->q_bytes);
    if (!out->q) {
        qc_msgs_addf(err, "out of memory packing %zu bytes of weights", out->q_bytes);
        return QC_ERUNTIME;
    }
    memset(out->q, 0, out->q_bytes);
    size_t NP = (size_t)P * QK_NR;
    out->bytes = out->q_bytes;
    if (qk_scheme_grouped(p->scheme)) {
        out->gscale = calloc(NP * (size_t)G, sizeof *out->gscale);
        out->bytes += NP * G * 2;
        if (p->asym) {
            out->gzero = calloc(NP * (size_t)G, 1);
            out->bytes += NP * G;
        }
    }
    if (p->scheme == QK_W8A16 || p->scheme == QK_W8A8 || (p->scheme == QK_FP8 && p->fp8_channel)) {
        out->cscale = calloc(NP, sizeof *out->cscale);
        out->bytes += NP * 4;
    }
    if (p->scheme == QK_W8A8)
        out->csum = calloc(NP, sizeof *out->csum);
    if (p->scheme == QK_FP8 && !p->fp8_channel) {
        float amax = 0;
        for (size_t i = 0; i < (size_t)N * K; i++)
            amax = fmaxf(amax, fabsf(w[i]));
        out->tscale = amax > 0 ? amax / 448.0f : 1.0f;
        out->bytes += 4;
    }

    uint8_t *qg = malloc((size_t)K), *base = out->q;
    for (int n = 0; n < N; n++) {
        const float *row = w + (size_t)n * K;
        int panel = n / QK_NR, c = n % QK_NR;
        uint8_t *pb = base + (size_t)panel * qk_panel_bytes(p);
        switch (p->scheme) {
        case QK_FP16:
            for (int k = 0; k < K; k++)
                ((uint16_t *)pb)[(size_t)k * QK_NR + c] = qk_float_to_half(row[k]);
            break;
        case QK_W8A16:
        case QK_W8A8: {
            float amax = 0;
            for (int k = 0; k < K; k++)
                amax = fmaxf(amax, fabsf(row[k]));
            float s = amax > 0 ? amax / 127.0f : 1.0f;
            out->cscale[n] = s;
            int32_t sum = 0;
            for (int k = 0; k < K; k++) {
                int8_t v = q8(row[k], s);
                sum += v;
                if (p->scheme == QK_W8A16)
                    ((int8_t *)pb)[(size_t)k * QK_NR + c] = v;
                else
                    ((int8_t *)pb)[((size_t)(k / 4) * QK_NR + c) * 4 + k % 4] = v;
            }
            if (out->csum)
                out->csum[n] = sum;
            break;
        }
        case QK_W4A16:
        case QK_W4A8:
            for (int gi = 0; gi < G; gi++) {
                uint8_t z;
                size_t at = ((size_t)panel * G + gi) * QK_NR + c;
                out->gscale[at] = quant_group4(row + (size_t)gi * g, g, p->asym, qg + (size_t)gi * g, &z);
                if (out->gzero)
                    out->gzero[at] = z;
            }
            for (int k = 0; k < K; k++) {
                int oct = k / 8, j = k % 8;
                uint8_t *b = pb + ((size_t)oct * QK_NR + c) * 4 + j % 4;
                *b |= (uint8_t)(qg[k] << (j < 4 ? 0 : 4));
            }
            break;
        case QK_FP8: {
            float s = out->tscale;
            if (p->fp8_channel) {
                float amax = 0;
                for (int k = 0; k < K; k++)
                    amax = fmaxf(amax, fabsf(row[k]));
                s = out->cscale[n] = amax > 0 ? amax / 448.0f : 1.0f;
            }
            for (int k = 0; k < K; k++)
                pb[(size_t)k * QK_NR + c] = qk_float_to_e4m3(row[k] / s);
            break;
        }
        default: break;
        }
    }
    /* padded channels of grouped schemes: q = 0 with z = 0 and s = 0 contribute nothing */
    free(qg);
    return QC_OK;
}

/* The raw value of (n, k) before scaling: what the kernels decode. */
static float raw(const qk_weights *w, int n, int k)
{
    const qk_problem *p = &w->p;
    const uint8_t *pb = qk_panel(w, n / QK_NR);
    int c = n % QK_NR;
    switch (p->scheme) {
    case QK_FP16: return qk_half_to_float(((const uint16_t *)pb)[(size_t)k * QK_NR + c]);
    case QK_W8A16: return ((const int8_t *)pb)[(size_t)k * QK_NR + c];
    case QK_W8A8: return ((const int8_t *)pb)[((size_t)(k / 4) * QK_NR + c) * 4 + k % 4];
    case QK_W4A16:
    case QK_W4A8: return qk_int4_at(pb, c, k);
    case QK_FP8: return qk_e4m3_to_float(pb[(size_t)k * QK_NR + c]);
    default: return 0;
    }
}

void qk_weights_dequant(const qk_weights *w, float *out)
{
    const qk_problem *p = &w->p;
    int G = qk_groups(p), g = qk_problem_group(p);
    for (int n = 0; n < p->n; n++)
        for (int k = 0; k < p->k; k++) {
            float v = raw(w, n, k);
            if (qk_scheme_grouped(p->scheme)) {
                size_t at = ((size_t)(n / QK_NR) * G + k / g) * QK_NR + n % QK_NR;
                float z = w->gzero ? w->gzero[at] : 8.0f;
                v = (v - z) * qk_half_to_float(w->gscale[at]);
            } else if (p->scheme != QK_FP16) {
                v *= qk_channel_scale(w, n);
            }
            out[(size_t)n * p->k + k] = v;
        }
}

static void *dup(const void *src, size_t bytes, int *ok)
{
    if (!src)
        return NULL;
    void *d = malloc(bytes ? bytes : 1);
    if (!d) {
        *ok = 0;
        return NULL;
    }
    memcpy(d, src, bytes);
    return d;
}

int qk_weights_copy(const qk_weights *w, qk_weights *out, qc_msgs *err)
{
    *out = *w;
    size_t np = (size_t)w->panels * QK_NR, gs = np * (size_t)qk_groups(&w->p);
    int ok = 1;
    out->q = qk_alloc(w->q_bytes);
    if (out->q)
        memcpy(out->q, w->q, w->q_bytes);
    ok &= out->q != NULL;
    out->gscale = dup(w->gscale, gs * sizeof *w->gscale, &ok);
    out->gzero = dup(w->gzero, gs, &ok);
    out->cscale = dup(w->cscale, np * sizeof *w->cscale, &ok);
    out->csum = dup(w->csum, np * sizeof *w->csum, &ok);
    if (!ok) {
        qk_weights_free(out);
        qc_msgs_addf(err, "out of memory copying %zu bytes of weights", w->bytes);
        return QC_ERUNTIME;
    }
    return QC_OK;
}

void qk_weights_free(qk_weights *w)
{
    free(w->q);
    free(w->gscale);
    free(w->gzero);
    free(w->cscale);
    free(w->csum);
    memset(w, 0, sizeof *w);
}
