/* Number formats, the shared quantizers, problem checks and the cost function. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/e4m3.h"
#include "kernels/qk.h"

static const char *const scheme_names[QK_SCHEME_COUNT] = {
    [QK_FP16] = "fp16", [QK_W8A16] = "w8a16", [QK_W4A16] = "w4a16",
    [QK_W8A8] = "w8a8", [QK_W4A8] = "w4a8",   [QK_FP8] = "fp8",   [QK_BF16] = "bf16",
};

const char *qk_scheme_name(qk_scheme s) { return (unsigned)s < QK_SCHEME_COUNT ? scheme_names[s] : "?"; }

int qk_scheme_parse(const char *name, qk_scheme *out)
{
    for (int i = 0; i < QK_SCHEME_COUNT; i++)
        if (!strcmp(name, scheme_names[i])) {
            *out = (qk_scheme)i;
            return QC_OK;
        }
    return QC_EINPUT;
}

int qk_scheme_grouped(qk_scheme s) { return s == QK_W4A16 || s == QK_W4A8; }

const char *qk_scheme_list(void) { return "fp16, w8a16, w4a16, w8a8, w4a8, fp8, bf16"; }

int qk_problem_bf16(const qk_problem *p) { return p->scheme == QK_BF16 || (p->scheme != QK_FP16 && p->act_bf16); }

const char *qk_problem_act_name(const qk_problem *p) { return qk_problem_bf16(p) ? "bf16" : "fp16"; }

const char *qk_problem_out_name(const qk_problem *p)
{
    return p->out_f32 ? "f32" : qk_problem_bf16(p) ? "bf16" : "f16";
}

int qk_problem_group(const qk_problem *p)
{
    return qk_scheme_grouped(p->scheme) && p->group > 0 ? p->group : p->k;
}

int qk_problem_check(const qk_problem *p, qc_msgs *err)
{
    if ((unsigned)p->scheme >= QK_SCHEME_COUNT) {
        qc_msgs_addf(err, "unknown scheme (use %s)", qk_scheme_list());
        return QC_EINPUT;
    }
    if (p->m <= 0 || p->n <= 0 || p->k <= 0) {
        qc_msgs_addf(err, "sizes must be positive, got M=%d N=%d K=%d", p->m, p->n, p->k);
        return QC_EINPUT;
    }
    const int64_t limit = (int64_t)1 << 34;
    if ((int64_t)p->m * p->k > limit || (int64_t)p->n * p->k > limit || (int64_t)p->m * p->n > limit) {
        qc_msgs_addf(err, "M=%d N=%d K=%d: an operand would exceed 2^34 elements (use smaller sizes)", p->m, p->n,
                     p->k);
        return QC_EINPUT;
    }
    if (qk_scheme_grouped(p->scheme)) {
        if (p->group != -1 && (p->group < 8 || p->group % 8)) {
            qc_msgs_addf(err, "group %d: use -1 (per channel) or a multiple of 8 such as 32, 64, 128", p->group);
            return QC_EINPUT;
        }
        if (p->group > 0 && p->k % p->group) {
            qc_msgs_addf(err, "K=%d is not a multiple of the group size %d (choose K or the group so that it is)",
                         p->k, p->group);
            return QC_EINPUT;
        }
        if (p->k % 8) {
            qc_msgs_addf(err, "the int4 schemes pack 8 values of K to a word: K must be a multiple of 8, got K=%d",
                         p->k);
            return QC_EINPUT;
        }
    } else if (p->asym) {
        qc_msgs_addf(err, "zero points (asymmetric) apply to the int4 schemes w4a16 and w4a8 only");
        return QC_EINPUT;
    }
    if (p->act_bf16 && p->scheme == QK_FP16) {
        qc_msgs_addf(err, "fp16 multiplies fp16 activations (for bf16 ones use the bf16 scheme)");
        return QC_EINPUT;
    }
    if (p->fp8_channel && p->scheme != QK_FP8) {
        qc_msgs_addf(err, "per-channel fp8 scales apply to the fp8 scheme only");
        return QC_EINPUT;
    }
    return QC_OK;
}

qk_cost_terms qk_cost_terms_of(const qk_problem *p)
{
    qk_cost_terms t = {.mk = 2, .mn = p->out_f32 ? 4 : 2, .mnk = 2};
    switch (p->scheme) {
    case QK_FP16:
    case QK_BF16: t.nk = 2; break;
    case QK_W8A16:
    case QK_W8A8: t.nk = 1, t.n = 4; break; /* int8 values, a float scale per channel */
    case QK_W4A16:
    case QK_W4A8: t.nk = 0.5, t.ngroup = p->asym ? 3 : 2; break; /* fp16 scale (and uint8 zero) per group */
    case QK_FP8:
        t.nk = 1;
        if (p->fp8_channel)
            t.n = 4;
        else
            t.tensor = 4;
        break;
    default: break;
    }
    return t;
}

qk_cost qk_problem_cost(const qk_problem *p)
{
    const qk_cost_terms t = qk_cost_terms_of(p);
    const double m = p->m, n = p->n, k = p->k, groups = k / qk_problem_group(p);
    qk_cost c;
    c.weight_bytes = t.nk * n * k + t.ngroup * n * groups + t.n * n + t.tensor;
    c.act_bytes = t.mk * m * k;
    c.out_bytes = t.mn * m * n;
    c.bytes = c.weight_bytes + c.act_bytes + c.out_bytes;
    c.flops = t.mnk * m * n * k;
    return c;
}

float qk_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        float v = (float)mant * 0x1p-24f; /* zero or subnormal: exact */
        return sign ? -v : v;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13);
    else
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t qk_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u)
        return sign | (a > 0x7f800000u ? 0x7e00 : 0x7c00);
    if (a >= 0x477ff000u) /* ≥ 65520 rounds to infinity */
        return sign | 0x7c00;
    if (a < 0x38800000u) { /* below 2^-14: a multiple of 2^-24, rounded to nearest even */
        float v;
        memcpy(&v, &a, 4);
        return sign | (uint16_t)nearbyintf(v * 0x1p24f);
    }
    uint32_t h = ((a >> 23) - 112) << 10 | ((a >> 13) & 0x3ff), rem = a & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    return sign | (uint16_t)h;
}

float qk_e4m3_to_float(uint8_t b)
{
    int e = (b >> 3) & 0xf, m = b & 7;
    float v;
    if (e == 0xf && m == 7)
        return NAN;
    v = e ? ldexpf(1.0f + m / 8.0f, e - 7) : ldexpf(m / 8.0f, -6);
    return b & 0x80 ? -v : v;
}

uint8_t qk_float_to_e4m3(float f) { return qk_e4m3_encode(f); }

float qk_bf16_to_float(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t qk_float_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)(x >> 16 | 0x40); /* NaN: quiet, never rounded into infinity */
    return (uint16_t)((x + 0x7fffu + (x >> 16 & 1)) >> 16);
}

float qk_x16_to_float(int bf16, uint16_t v) { return bf16 ? qk_bf16_to_float(v) : qk_half_to_float(v); }
uint16_t qk_float_to_x16(int bf16, float f) { return bf16 ? qk_float_to_bf16(f) : qk_float_to_half(f); }

float qk_quantize_row_int8(const uint16_t *x, int k, int bf16, int8_t *q)
{
    float amax = 0;
    for (int i = 0; i < k; i++)
        amax = fmaxf(amax, fabsf(qk_x16_to_float(bf16, x[i])));
    float inv = amax > 0 ? 127.0f / amax : 0.0f;
    for (int i = 0; i < k; i++)
        q[i] = (int8_t)lrintf(qk_x16_to_float(bf16, x[i]) * inv);
    return amax / 127.0f;
}

/* fp8 activations: one scale for the tensor; values are e4m3(x·448/absmax). */
float qk_fp8_act_scale(const uint16_t *x, size_t count, int bf16, float *inv)
{
    float amax = 0;
    for (size_t i = 0; i < count; i++)
        amax = fmaxf(amax, fabsf(qk_x16_to_float(bf16, x[i])));
    *inv = amax > 0 ? 448.0f / amax : 0.0f;
    return amax / 448.0f;
}

void qk_activations_dequant(const qk_problem *p, const uint16_t *x, float *out)
{
    size_t mk = (size_t)p->m * p->k;
    const int bf16 = qk_problem_bf16(p);
    if (p->scheme == QK_W8A8 || p->scheme == QK_W4A8) {
        int8_t *q = malloc((size_t)p->k);
        for (int r = 0; r < p->m; r++) {
            float s = qk_quantize_row_int8(x + (size_t)r * p->k, p->k, bf16, q);
            for (int i = 0; i < p->k; i++)
                out[(size_t)r * p->k + i] = (float)q[i] * s;
        }
        free(q);
    } else if (p->scheme == QK_FP8) {
        float inv, s = qk_fp8_act_scale(x, mk, bf16, &inv);
        for (size_t i = 0; i < mk; i++)
            out[i] = qk_e4m3_to_float(qk_float_to_e4m3(qk_x16_to_float(bf16, x[i]) * inv)) * s;
    } else {
        for (size_t i = 0; i < mk; i++)
            out[i] = qk_x16_to_float(bf16, x[i]);
    }
}
