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

static int pack_cpu(const qk_problem *p, int nr, const float *w, qk_weights *out, qc_msgs *err);

/* The bf16 value (channel c, k) of a panel: [K2][nr][2] */
static size_t bf16_at(int nr, int c, int k) { return ((size_t)(k / 2) * nr + c) * 2 + k % 2; }
static int relayout_cuda(qk_weights *out, qc_msgs *err);

int qk_weights_pack(const qk_packing *pk, const qk_problem *p, const float *w, qk_weights *out, qc_msgs *err)
{
    if (pk->layout == QK_LAYOUT_CPU && (pk->nr < 1 || pk->nr > 64 || pk->nr % 4)) {
        memset(out, 0, sizeof *out);
        qc_msgs_addf(err, "panel width %d: use a multiple of 4 up to 64", pk->nr);
        return QC_EINPUT;
    }
    if (pk->layout == QK_LAYOUT_ONEDNN && p->scheme != QK_W8A8 && p->scheme != QK_BF16) {
        memset(out, 0, sizeof *out);
        qc_msgs_addf(err, "oneDNN's layout holds w8a8 and bf16 weights, not %s", qk_scheme_name(p->scheme));
        return QC_EINPUT;
    }
    /* the quantization is always the CPU packing's; other layouts move the same values */
    int rc = pack_cpu(p, pk->layout == QK_LAYOUT_CPU ? pk->nr : 16, w, out, err);
    if (rc || pk->layout == QK_LAYOUT_CPU)
        return rc;
#ifdef QBENCH_HAVE_ONEDNN
    if (pk->layout == QK_LAYOUT_ONEDNN) {
        if ((rc = qk_onednn_pack(out, err)))
            qk_weights_free(out);
        return rc;
    }
#endif
    if (pk->layout == QK_LAYOUT_ONEDNN) {
        qk_weights_free(out);
        qc_msgs_addf(err, "qbench was built without oneDNN (install libdnnl-dev and rebuild)");
        return QC_ERUNTIME;
    }
    return relayout_cuda(out, err);
}

int qk_weights_packed_as(const qk_weights *w, const qk_packing *pk)
{
    return w->layout == pk->layout && (pk->layout != QK_LAYOUT_CPU || w->nr == pk->nr);
}

/* The CUDA layout, from the CPU packing (the same quantized values, scales and zeros): only
 * where the values sit changes; per-(group, channel) arrays go from [panel][G][nr] to [G][N]. */
static int relayout_cuda(qk_weights *out, qc_msgs *err)
{
    const qk_problem *p = &out->p;
    qk_weights cpu = *out;
    const int nr = cpu.nr;
    const int N = p->n, K = p->k, G = qk_groups(p);
    size_t bytes;
    switch (p->scheme) {
    case QK_FP16:
    case QK_BF16: bytes = (size_t)N * K * 2; break;
    case QK_W4A16:
    case QK_W4A8: bytes = (size_t)K / 8 * N * 4; break;
    case QK_W8A16: bytes = (size_t)(K + 3) / 4 * N * 4; break;
    default: bytes = (size_t)N * K; break; /* w8a8, fp8 */
    }
    void *q = qc_alloc(bytes);
    if (!q) {
        qk_weights_free(&cpu);
        qc_msgs_addf(err, "out of memory packing %zu bytes of weights", bytes);
        return QC_ERUNTIME;
    }
    memset(q, 0, bytes);
    for (int n = 0; n < N; n++) {
        const uint8_t *pb = qk_panel(&cpu, n / nr);
        int c = n % nr;
        for (int k = 0; k < K; k++) {
            switch (p->scheme) {
            case QK_FP16: ((uint16_t *)q)[(size_t)n * K + k] = ((const uint16_t *)pb)[(size_t)k * nr + c]; break;
            case QK_BF16: ((uint16_t *)q)[(size_t)n * K + k] = ((const uint16_t *)pb)[bf16_at(nr, c, k)]; break;
            case QK_W8A8:
                ((int8_t *)q)[(size_t)n * K + k] = ((const int8_t *)pb)[((size_t)(k / 4) * nr + c) * 4 + k % 4];
                break;
            case QK_FP8: ((uint8_t *)q)[(size_t)n * K + k] = pb[(size_t)k * nr + c]; break;
            case QK_W8A16:
                ((uint32_t *)q)[(size_t)(k / 4) * N + n] |= (uint32_t)(uint8_t)((const int8_t *)pb)[(size_t)k * nr + c]
                                                            << (8 * (k % 4));
                break;
            default: /* w4a16, w4a8 */
                ((uint32_t *)q)[(size_t)(k / 8) * N + n] |= (uint32_t)qk_int4_at(pb, nr, c, k) << (4 * (k % 8));
            }
        }
    }
    qk_weights g = cpu;
    g.layout = QK_LAYOUT_CUDA;
    g.q = q;
    g.q_bytes = bytes;
    g.gscale = NULL;
    g.gzero = NULL;
    g.cscale = NULL;
    g.csum = NULL;
    size_t gs = (size_t)G * N;
    if (cpu.gscale) {
        g.gscale = malloc(gs * 2);
        for (int gi = 0; gi < G; gi++)
            for (int n = 0; n < N; n++)
                g.gscale[(size_t)gi * N + n] = cpu.gscale[((size_t)(n / nr) * G + gi) * nr + n % nr];
    }
    if (cpu.gzero) {
        g.gzero = malloc(gs);
        for (int gi = 0; gi < G; gi++)
            for (int n = 0; n < N; n++)
                g.gzero[(size_t)gi * N + n] = cpu.gzero[((size_t)(n / nr) * G + gi) * nr + n % nr];
    }
    if (cpu.cscale) {
        g.cscale = malloc((size_t)N * 4);
        memcpy(g.cscale, cpu.cscale, (size_t)N * 4);
    }
    if (cpu.csum) {
        g.csum = malloc((size_t)N * 4);
        memcpy(g.csum, cpu.csum, (size_t)N * 4);
    }
    g.panels = 0;
    g.nr = 0;
    qk_weights_free(&cpu);
    *out = g;
    return QC_OK;
}

static int pack_cpu(const qk_problem *p, int nr, const float *w, qk_weights *out, qc_msgs *err)
{
    memset(out, 0, sizeof *out);
    int rc = qk_problem_check(p, err);
    if (rc)
        return rc;
    out->p = *p;
    out->nr = nr;
    int N = p->n, K = p->k, P = (N + nr - 1) / nr, G = qk_groups(p), g = qk_problem_group(p);
    out->panels = P;
    out->q_bytes = qk_panel_bytes(p, nr) * (size_t)P;
    out->q = qc_alloc(out->q_bytes);
    if (!out->q) {
        qc_msgs_addf(err, "out of memory packing %zu bytes of weights", out->q_bytes);
        return QC_ERUNTIME;
    }
    memset(out->q, 0, out->q_bytes);
    size_t NP = (size_t)P * nr;
    if (qk_scheme_grouped(p->scheme)) {
        out->gscale = calloc(NP * (size_t)G, sizeof *out->gscale);
        if (p->asym) {
            out->gzero = calloc(NP * (size_t)G, 1);
        }
    }
    if (p->scheme == QK_W8A16 || p->scheme == QK_W8A8 || (p->scheme == QK_FP8 && p->fp8_channel)) {
        out->cscale = calloc(NP, sizeof *out->cscale);
    }
    if (p->scheme == QK_W8A8)
        out->csum = calloc(NP, sizeof *out->csum);
    if (p->scheme == QK_FP8 && !p->fp8_channel) {
        float amax = 0;
        for (size_t i = 0; i < (size_t)N * K; i++)
            amax = fmaxf(amax, fabsf(w[i]));
        out->tscale = amax > 0 ? amax / 448.0f : 1.0f;
    }

    uint8_t *qg = malloc((size_t)K), *base = out->q;
    for (int n = 0; n < N; n++) {
        const float *row = w + (size_t)n * K;
        int panel = n / nr, c = n % nr;
        uint8_t *pb = base + (size_t)panel * qk_panel_bytes(p, nr);
        switch (p->scheme) {
        case QK_FP16:
            for (int k = 0; k < K; k++)
                ((uint16_t *)pb)[(size_t)k * nr + c] = qk_float_to_half(row[k]);
            break;
        case QK_BF16:
            for (int k = 0; k < K; k++)
                ((uint16_t *)pb)[bf16_at(nr, c, k)] = qk_float_to_bf16(row[k]);
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
                    ((int8_t *)pb)[(size_t)k * nr + c] = v;
                else
                    ((int8_t *)pb)[((size_t)(k / 4) * nr + c) * 4 + k % 4] = v;
            }
            if (out->csum)
                out->csum[n] = sum;
            break;
        }
        case QK_W4A16:
        case QK_W4A8:
            for (int gi = 0; gi < G; gi++) {
                uint8_t z;
                size_t at = ((size_t)panel * G + gi) * nr + c;
                out->gscale[at] = quant_group4(row + (size_t)gi * g, g, p->asym, qg + (size_t)gi * g, &z);
                if (out->gzero)
                    out->gzero[at] = z;
            }
            for (int k = 0; k < K; k++) {
                int oct = k / 8, j = k % 8;
                uint8_t *b = pb + ((size_t)oct * nr + c) * 4 + j % 4;
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
                pb[(size_t)k * nr + c] = qk_float_to_e4m3(row[k] / s);
            break;
        }
        default: break;
        }
    }
    /* padded channels of grouped schemes: q = 0 with z = 0 and s = 0 contribute nothing */
    free(qg);
    out->bytes = (size_t)qk_problem_cost(p).weight_bytes; /* one figure with the cost function */
    return QC_OK;
}

/* The raw value of (n, k) before scaling: what the kernels decode. */
static float raw(const qk_weights *w, int n, int k)
{
    const qk_problem *p = &w->p;
    if (w->layout == QK_LAYOUT_CUDA) {
        const int N = p->n, K = p->k;
        switch (p->scheme) {
        case QK_FP16: return qk_half_to_float(((const uint16_t *)w->q)[(size_t)n * K + k]);
        case QK_BF16: return qk_bf16_to_float(((const uint16_t *)w->q)[(size_t)n * K + k]);
        case QK_W8A8: return ((const int8_t *)w->q)[(size_t)n * K + k];
        case QK_FP8: return qk_e4m3_to_float(((const uint8_t *)w->q)[(size_t)n * K + k]);
        case QK_W8A16: return (int8_t)(((const uint32_t *)w->q)[(size_t)(k / 4) * N + n] >> (8 * (k % 4)));
        default: return (((const uint32_t *)w->q)[(size_t)(k / 8) * N + n] >> (4 * (k % 8))) & 15;
        }
    }
    const int nr = w->nr;
    const uint8_t *pb = qk_panel(w, n / nr);
    int c = n % nr;
    switch (p->scheme) {
    case QK_FP16: return qk_half_to_float(((const uint16_t *)pb)[(size_t)k * nr + c]);
    case QK_BF16: return qk_bf16_to_float(((const uint16_t *)pb)[bf16_at(nr, c, k)]);
    case QK_W8A16: return ((const int8_t *)pb)[(size_t)k * nr + c];
    case QK_W8A8: return ((const int8_t *)pb)[((size_t)(k / 4) * nr + c) * 4 + k % 4];
    case QK_W4A16:
    case QK_W4A8: return qk_int4_at(pb, nr, c, k);
    case QK_FP8: return qk_e4m3_to_float(pb[(size_t)k * nr + c]);
    default: return 0;
    }
}

void qk_weights_dequant(const qk_weights *w, float *out)
{
    const qk_problem *p = &w->p;
    const int G = qk_groups(p), g = qk_problem_group(p), cuda = w->layout == QK_LAYOUT_CUDA;
    if (w->layout == QK_LAYOUT_ONEDNN) { /* oneDNN's layout is its own: reordered back first */
        const int bf16 = p->scheme == QK_BF16;
        void *plain = malloc((size_t)p->n * p->k * (bf16 ? 2 : 1));
        int ok = plain != NULL;
#ifdef QBENCH_HAVE_ONEDNN
        ok = ok && qk_onednn_unpack(w, plain, NULL) == QC_OK;
#else
        ok = 0;
#endif
        for (size_t i = 0; i < (size_t)p->n * p->k; i++) /* NaN where it cannot: the check fails, visibly */
            out[i] = !ok ? NAN
                     : bf16 ? qk_bf16_to_float(((const uint16_t *)plain)[i])
                            : ((const int8_t *)plain)[i] * w->cscale[i / p->k];
        free(plain);
        return;
    }
    for (int n = 0; n < p->n; n++)
        for (int k = 0; k < p->k; k++) {
            float v = raw(w, n, k);
            if (qk_scheme_grouped(p->scheme)) {
                size_t at = cuda ? (size_t)(k / g) * p->n + n : ((size_t)(n / w->nr) * G + k / g) * w->nr + n % w->nr;
                float z = w->gzero ? w->gzero[at] : 8.0f;
                v = (v - z) * qk_half_to_float(w->gscale[at]);
            } else if (p->scheme != QK_FP16 && p->scheme != QK_BF16) {
                v *= qk_channel_scale(w, n);
            }
            /* the GPU weight-only kernels multiply weights of the activations' 16-bit type: that
             * rounding is the operand */
            if (cuda && (p->scheme == QK_W4A16 || p->scheme == QK_W8A16))
                v = qk_x16_to_float(qk_problem_bf16(p), qk_float_to_x16(qk_problem_bf16(p), v));
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
    size_t np = w->layout == QK_LAYOUT_CPU ? (size_t)w->panels * w->nr : (size_t)w->p.n, gs = np * (size_t)qk_groups(&w->p);
    int ok = 1;
    out->q = qc_alloc(w->q_bytes);
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
