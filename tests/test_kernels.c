/* kernels/: number formats against independent definitions, and every kernel (generic and
 * SIMD, several configurations) against the fp64 reference on the dequantized operands,
 * over every scheme × group × sym/asym and shapes that are multiples of no tile. Outputs are
 * poisoned first, so an element a kernel forgets to write fails the comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardware/hardware.h"
#include "kernels/internal.h"
#include "kernels/qk.h"

/* ---- formats ---- */

static void test_half_round_trip(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = qk_half_to_float((uint16_t)h);
        if (isnan(f))
            continue;
        assert_int_equal(qk_float_to_half(f), h);
    }
    assert_true(qk_half_to_float(0x3c00) == 1.0f);
    assert_true(qk_half_to_float(0x0001) == 0x1p-24f);
    assert_true(qk_half_to_float(0x7bff) == 65504.0f);
}

/* bf16: every value back to itself through fp32; ties to even; NaN stays NaN, rounding never
 * makes one; the largest values round to infinity */
static void test_bf16_round_trip(void **state)
{
    (void)state;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = qk_bf16_to_float((uint16_t)b);
        assert_true(isnan(f) ? isnan(qk_bf16_to_float(qk_float_to_bf16(f))) : qk_float_to_bf16(f) == b);
        uint32_t bits = b << 16 | 0x8000; /* halfway to the next bf16 */
        memcpy(&f, &bits, 4);
        if (!isnan(f) && !isinf(f))
            assert_int_equal(qk_float_to_bf16(f), (b & 1) ? b + 1 : b);
    }
    assert_int_equal(qk_float_to_bf16(1.0f + 0x1p-9f), 0x3f80);       /* under half an ulp (2^-7) */
    assert_int_equal(qk_float_to_bf16(1.0f + 0x1p-8f), 0x3f80);       /* a tie: to the even 1 */
    assert_int_equal(qk_float_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);   /* a tie: to the even 1 + 2^-6 */
    assert_int_equal(qk_float_to_bf16(3.4e38f), 0x7f80);
    assert_int_equal(qk_float_to_bf16(-3.4e38f), 0xff80);
    const uint32_t snan = 0x7f800001u;
    float f;
    memcpy(&f, &snan, 4);
    assert_int_equal(qk_float_to_bf16(f), 0x7fc0);
}

__attribute__((target("f16c"))) static uint16_t hw_half(float f)
{
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0);
}

static void test_half_rounding_matches_f16c(void **state)
{
    (void)state;
    qh_cpu c;
    qh_cpu_identify(&c);
    if (!qh_cpu_has(&c, QH_F16C))
        skip();
    uint64_t s = 1;
    for (int i = 0; i < 2000000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t bits = (uint32_t)(s >> 32);
        float f;
        memcpy(&f, &bits, 4);
        if (isnan(f))
            continue;
        uint16_t mine = qk_float_to_half(f), hw = hw_half(f);
        if (mine != hw)
            print_error("%a: ours %04x, F16C %04x\n", f, mine, hw);
        assert_int_equal(mine, hw);
    }
}

/* The AVX-512 activation conversions are the portable definitions, bit for bit: over every
 * fp16 and every bf16 value (NaN, infinities, subnormals, ±0), and per-token int8 on rows of
 * every length; and the bf16 store rounds as qk_float_to_bf16 (ties, NaN, overflow). */
static void test_avx512_conversions(void **state)
{
    (void)state;
    const qk_kernel *k = qk_kernel_find("w8a8.avx512vnni");
    if (!k || !qk_kernel_supported(k)) {
        print_message("no AVX-512 here: skipped\n");
        return;
    }
    enum { ALL = 65536 };
    uint16_t *x = malloc(ALL * 2);
    float *f = malloc(ALL * 4);
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        const char *type = bf16 ? "bf16" : "fp16";
        for (int i = 0; i < ALL; i++)
            x[i] = (uint16_t)i;
        qk_load_x_avx512(x, ALL, bf16, f);
        for (int i = 0; i < ALL; i++) {
            float want = qk_x16_to_float(bf16, x[i]);
            if (memcmp(&want, &f[i], 4) && !(isnan(want) && isnan(f[i])))
                fail_msg("%s 0x%04x: %a, want %a", type, i, f[i], want);
        }
        /* fp8 activations: e4m3(x·inv) for scales that put the 16-bit range across e4m3's
         * (saturation, subnormals, ties) */
        const float invs[] = {1.0f, 448.0f / 65504.0f, 0.3f, 7.0f, 1024.0f, 1.0f / 3.0f, 0x1p-120f};
        for (size_t j = 0; j < sizeof invs / sizeof invs[0]; j++) {
            qk_fp8_x_avx512(x, ALL, bf16, invs[j], f);
            for (int i = 0; i < ALL; i++) {
                float want = qk_e4m3_to_float(qk_float_to_e4m3(qk_x16_to_float(bf16, x[i]) * invs[j]));
                if (memcmp(&want, &f[i], 4) && !(isnan(want) && isnan(f[i])))
                    fail_msg("fp8 of %s 0x%04x at inv %a: %a, want %a", type, i, invs[j], f[i], want);
            }
        }
        /* int8 per token, rows of 1 .. 100 (every tail), on LLM-like values */
        int8_t q1[100], q2[100];
        float *xf = malloc(100 * 4);
        qk_fill_activations(x, xf, 1, 100, bf16, 9);
        for (int len = 1; len <= 100; len++) {
            float s1 = qk_quantize_row_int8(x, len, bf16, q1), s2 = qk_quantize_row_int8_avx512(x, len, bf16, q2);
            assert_memory_equal(&s1, &s2, 4);
            assert_memory_equal(q1, q2, (size_t)len);
            assert_true(qk_absmax_x16_avx512(x, (size_t)len, bf16) / 127.0f == s1);
        }
        uint16_t zeros[17] = {0};
        float s1 = qk_quantize_row_int8(zeros, 17, bf16, q1), s2 = qk_quantize_row_int8_avx512(zeros, 17, bf16, q2);
        assert_true(s1 == 0 && s2 == 0);
        assert_memory_equal(q1, q2, 17);
        free(xf);
    }
    /* the bf16 output: fp32 values around every rounding case, stored by the AVX-512 store */
    enum { N = 64 };
    const qk_problem p = {.scheme = QK_BF16, .m = 1, .n = N, .k = 2};
    float v[N], post[N];
    uint16_t y[N];
    uint64_t seed = 5;
    for (int round = 0; round < 4096; round++) {
        for (int c = 0; c < N; c++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t bits = (uint32_t)(seed >> 32);
            if (c % 4 == 1)
                bits = (bits & 0xffff0000u) | 0x8000u; /* a tie */
            if (c % 16 == 3)
                bits = (bits & 0x80000000u) | 0x7f7fffffu; /* rounds to infinity */
            if (c % 32 == 7)
                bits = 0x7f800001u | (bits & 0x80000000u); /* a signalling NaN */
            memcpy(&v[c], &bits, 4);
            post[c] = 1.0f;
        }
        qk_store_avx512(&p, y, 0, 0, N, v, post);
        for (int c = 0; c < N; c++) {
            uint16_t want = qk_float_to_bf16(v[c]);
            if (y[c] != want)
                fail_msg("bf16 of %a: 0x%04x, want 0x%04x", v[c], y[c], want);
        }
    }
    free(x);
    free(f);
}

static void test_e4m3(void **state)
{
    (void)state;
    /* decode: the E4M3FN table by definition */
    assert_true(qk_e4m3_to_float(0x7e) == 448.0f);
    assert_true(qk_e4m3_to_float(0x01) == 0x1p-9f);
    assert_true(qk_e4m3_to_float(0x08) == 0x1p-6f);
    assert_true(qk_e4m3_to_float(0x38) == 1.0f);
    assert_true(isnan(qk_e4m3_to_float(0x7f)) && isnan(qk_e4m3_to_float(0xff)));
    for (int b = 0; b < 256; b++)
        if ((b & 0x7f) != 0x7f)
            assert_int_equal(qk_float_to_e4m3(qk_e4m3_to_float((uint8_t)b)), b == 0x80 ? 0x80 : b);
    /* encode: the nearest representable value, ties to even code, saturating at ±448 */
    uint64_t s = 3;
    for (int i = 0; i < 200000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float f = ldexpf((float)((s >> 40) & 0xffffff) / 0x1p24f, (int)((s >> 20) % 24) - 14);
        if (s & 1)
            f = -f;
        uint8_t got = qk_float_to_e4m3(f);
        float best = 0, bestd = INFINITY;
        int bestb = 0;
        for (int b = 0; b < 256; b++) {
            if ((b & 0x7f) == 0x7f)
                continue;
            float v = qk_e4m3_to_float((uint8_t)b);
            float d = fabsf(v - fmaxf(-448.0f, fminf(448.0f, f)));
            if (d < bestd || (d == bestd && !(b & 1) && (signbit(v) == signbit(f)))) {
                bestd = d;
                best = v;
                bestb = b;
            }
        }
        if (qk_e4m3_to_float(got) != best)
            print_error("%a → %02x (%g), nearest %02x (%g)\n", f, got, qk_e4m3_to_float(got), bestb, best);
        assert_true(qk_e4m3_to_float(got) == best);
    }
    assert_int_equal(qk_float_to_e4m3(1e6f), 0x7e);
    assert_int_equal(qk_float_to_e4m3(-1e6f), 0xfe);
    assert_int_equal(qk_float_to_e4m3(464.0f), 0x7e); /* a tie between 448 and (NaN) 480 stays finite */
}

/* ---- kernels ----
 * Every kernel, every configuration class, every scheme × group × sym/asym × output type, on
 * shapes that are multiples of no tile, on each data set below. */

typedef struct shape {
    int m, n, k;
} shape;

/* The data sets every kernel must pass: LLM-like (heavy tails, outlier activation channels),
 * uniform, one input channel of W 1000× the rest, and one channel of X 1000× the rest. */
typedef enum dataset { DATA_LLM, DATA_UNIFORM, DATA_W_OUTLIER, DATA_X_OUTLIER, DATA_COUNT } dataset;
static const char *const data_names[DATA_COUNT] = {"LLM-like", "uniform", "W channel 1000x", "X channel 1000x"};

static double uniform01(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1p-53;
}

static void fill_data(dataset d, const qk_problem *p, float *w, uint16_t *x)
{
    size_t nk = (size_t)p->n * p->k;
    uint64_t s = (uint64_t)p->n * 131 + (uint64_t)p->k * 7 + (uint64_t)d;
    if (d == DATA_UNIFORM) {
        for (size_t i = 0; i < nk; i++)
            w[i] = (float)(0.04 * uniform01(&s) - 0.02);
        for (size_t i = 0; i < (size_t)p->m * p->k; i++)
            x[i] = qk_float_to_x16(qk_problem_bf16(p), (float)uniform01(&s)); /* non-negative, as after an activation function */
        return;
    }
    qk_fill_weights(w, nk, (uint64_t)p->n * 31 + p->k);
    qk_fill_activations(x, NULL, p->m, p->k, qk_problem_bf16(p), (uint64_t)p->m * 17 + p->k);
    int ch = p->k / 3; /* one input channel (a column of W, of X) */
    if (d == DATA_W_OUTLIER)
        for (int n = 0; n < p->n; n++)
            w[(size_t)n * p->k + ch] *= 1000.0f;
    if (d == DATA_X_OUTLIER)
        for (int m = 0; m < p->m; m++) {
            size_t at = (size_t)m * p->k + ch;
            float v = 1000.0f * (float)(uniform01(&s) * 2 - 1);
            x[at] = qk_float_to_x16(qk_problem_bf16(p), v);
        }
}

/* Asserts every configuration is within tolerance on the data set. */
static void check_problem_on(dataset data, const qk_problem *p, const qk_kernel *k, const qk_config *configs,
                             int n_configs)
{
    size_t nk = (size_t)p->n * p->k, mk = (size_t)p->m * p->k, mn = (size_t)p->m * p->n;
    float *w = malloc(nk * 4), *wd = malloc(nk * 4), *xd = malloc(mk * 4);
    uint16_t *x = malloc(mk * 2);
    double *ref = malloc(mn * 8);
    fill_data(data, p, w, x);
    qk_weights qw;
    qc_msgs err = {0};
    assert_int_equal(qk_weights_pack(&k->packing, p, w, &qw, &err), QC_OK);
    qk_weights_dequant(&qw, wd);
    qk_activations_dequant(p, x, xd);
    qk_reference_gemm(p->m, p->n, p->k, xd, wd, ref);
    size_t ybytes = mn * (p->out_f32 ? 4 : 2);
    void *y = malloc(ybytes);
    for (int c = 0; c < n_configs; c++) {
        const qk_config cfg = configs[c];
        char text[128];
        qk_config_format(k, &cfg, text, sizeof text);
        void *work = qc_alloc(qk_kernel_workspace(k, p, &cfg));
        memset(y, 0xff, ybytes); /* NaN in fp16 and fp32: an unwritten element poisons the error */
        assert_int_equal(qk_gemm(k, &cfg, &qw, x, p->m, y, work, &err), QC_OK);
        double e = qk_relative_error(p, y, ref, p->m, NULL, 0, NULL);
        if (!(e <= qk_error_limit(p)))
            print_error("%s %s g%d %s x_%s out_%s M=%d N=%d K=%d config '%s', %s data: kernel error %g\n", k->name,
                        qk_scheme_name(p->scheme), p->group, p->asym ? "asym" : "sym", qk_problem_act_name(p),
                        qk_problem_out_name(p),
                        p->m, p->n, p->k, text, data_names[data], e);
        assert_true(e <= qk_error_limit(p));
        free(work);
    }
    free(y);
    qk_weights_free(&qw);
    free(w);
    free(wd);
    free(xd);
    free(x);
    free(ref);
    qc_msgs_free(&err);
}

/* M, N and K multiples of no tile; K = 37 and 101 only where the scheme allows any K (the int4
 * schemes need K % 8 == 0 and reject these, which test_bad_problems checks) */
static const shape shapes[] = {{1, 37, 96},  {3, 16, 64}, {7, 50, 128},  {13, 33, 256}, {1, 5, 24},
                               {20, 70, 160}, {5, 19, 37}, {9, 40, 101}, {1, 17, 384}, {5, 17, 128},
                               /* X of more than 256 KiB: the integer loop's K-block-major order */
                               {70, 20, 4096},
                               /* more rows than a register tile and a long K: the small-M float path
                                * works in K blocks */
                               {9, 20, 16384}};

/* The configurations a kernel is checked in: its defaults for the problem, then each parameter
 * at each of its listed values with the others at their defaults (what the kernel accepts for
 * the problem), so that every path a parameter selects (register tile rows, K and N blocks,
 * the pre-dequantized path, one thread) runs; then a few blockings no list holds. */
enum { MAX_CONFIGS = 64 };
static int configs_of(const qk_kernel *k, const qk_problem *p, qk_config *out)
{
    static const char *const extra[] = {"kc=16,nc=32,threads=1", "mr=1,kc=24", "predequant=1,kc=16,nc=32,threads=1",
                                        "predequant=1,kc=40,nc=48", "predequant=2,kc=16,threads=1",
                                        "predequant=2,kc=48,nc=128"};
    char why[256];
    int n = 0;
    qk_kernel_defaults(k, p, &out[n++]);
    for (int i = 0; i < k->n_params; i++) {
        int vals[16], nv = qk_param_values(k, i, vals, 16);
        for (int j = 0; j < nv && n < MAX_CONFIGS; j++) {
            qk_config c = out[0];
            c.v[i] = vals[j];
            if (memcmp(&c, &out[0], sizeof c) && !qk_kernel_check(k, p, &c, why, sizeof why))
                out[n++] = c;
        }
    }
    for (size_t e = 0; e < sizeof extra / sizeof extra[0] && n < MAX_CONFIGS; e++) {
        qk_config c = out[0];
        if (qk_config_apply(k, extra[e], &c, NULL) == QC_OK && !qk_kernel_check(k, p, &c, why, sizeof why))
            out[n++] = c;
    }
    return n;
}

static void run_scheme(qk_scheme s)
{
    const int groups[] = {32, 64, 128, -1, 8};
    for (int ki = 0; ki < qk_kernel_count(); ki++) {
        const qk_kernel *k = qk_kernel_get(ki);
        if (k->scheme != s)
            continue;
        if (!qk_kernel_supported(k)) {
            char why[256];
            qk_kernel_why_not(k, why, sizeof why);
            print_message("%s: not supported here (%s), skipped\n", k->name, why);
            continue;
        }
        int cases = 0, configs = 0;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int gi = 0; gi < (qk_scheme_grouped(s) ? 5 : 1); gi++)
                for (int asym = 0; asym <= qk_scheme_grouped(s); asym++)
                    for (int f32 = 0; f32 <= 1; f32++)
                        for (int ch = 0; ch <= (s == QK_FP8); ch++)
                        for (int bf = 0; bf <= (s != QK_FP16 && s != QK_BF16 && !f32); bf++) {
                            /* bf16 activations with the 16-bit output only: the input's conversion
                             * is the same whatever the output, the bf16 store is the new part */
                            qk_problem p = {.scheme = s, .m = shapes[si].m, .n = shapes[si].n, .k = shapes[si].k,
                                            .group = qk_scheme_grouped(s) ? groups[gi] : 0, .asym = asym,
                                            .out_f32 = f32, .fp8_channel = ch, .act_bf16 = bf};
                            if (qk_problem_check(&p, NULL) != QC_OK)
                                continue; /* K not a multiple of this group: covered by test_bad_problems */
                            if (p.k == 4096 && s != QK_W8A8 && s != QK_W4A8)
                                continue; /* the large-X shape is for the integer loop's other order */
                            if (p.k == 16384 && (s == QK_W8A8 || s == QK_W4A8 || !strcmp(k->isa, "generic")))
                                continue; /* the long-K shape is for the float kernels' small-M path */
                            qk_config cfgs[MAX_CONFIGS];
                            int n = configs_of(k, &p, cfgs);
                            for (int d = 0; d < DATA_COUNT; d++)
                                check_problem_on((dataset)d, &p, k, cfgs, n);
                            cases++;
                            configs += n;
                        }
        print_message("%s: %d problems in %d configurations in all, each on %d data sets, within tolerance\n",
                      k->name, cases, configs, DATA_COUNT);
    }
}

static void test_fp16(void **state) { (void)state; run_scheme(QK_FP16); }
static void test_w8a16(void **state) { (void)state; run_scheme(QK_W8A16); }
static void test_w4a16(void **state) { (void)state; run_scheme(QK_W4A16); }
static void test_w8a8(void **state) { (void)state; run_scheme(QK_W8A8); }
static void test_w4a8(void **state) { (void)state; run_scheme(QK_W4A8); }
static void test_fp8(void **state) { (void)state; run_scheme(QK_FP8); }
static void test_bf16(void **state) { (void)state; run_scheme(QK_BF16); }

/* The quantization error (vs the original fp32 operands) is what the scheme costs: small for
 * 8-bit, larger for 4-bit, and group quantization beats per-channel. */
static double quant_error(qk_scheme s, int group)
{
    qk_problem p = {.scheme = s, .m = 8, .n = 64, .k = 512, .group = group, .out_f32 = 1};
    size_t nk = (size_t)p.n * p.k, mk = (size_t)p.m * p.k;
    float *w = malloc(nk * 4), *x32 = malloc(mk * 4);
    uint16_t *x = malloc(mk * 2);
    double *ref = malloc((size_t)p.m * p.n * 8);
    float *y = malloc((size_t)p.m * p.n * 4);
    qk_fill_weights(w, nk, 5);
    qk_fill_activations(x, x32, p.m, p.k, qk_problem_bf16(&p), 6);
    qk_reference_gemm(p.m, p.n, p.k, x32, w, ref);
    qk_weights qw;
    const qk_kernel *k = qk_kernel_best(s);
    qk_weights_pack(&k->packing, &p, w, &qw, NULL);
    qk_config cfg;
    qk_kernel_defaults(k, &p, &cfg);
    void *work = qc_alloc(qk_kernel_workspace(k, &p, &cfg));
    assert_int_equal(qk_gemm(k, &cfg, &qw, x, p.m, y, work, NULL), QC_OK);
    double e = qk_relative_error(&p, y, ref, p.m, NULL, 0, NULL);
    free(work);
    qk_weights_free(&qw);
    free(w);
    free(x32);
    free(x);
    free(ref);
    free(y);
    return e;
}

static void test_quantization_error(void **state)
{
    (void)state;
    double fp16 = quant_error(QK_FP16, 0), w8 = quant_error(QK_W8A16, 0), w4g = quant_error(QK_W4A16, 32),
           w4c = quant_error(QK_W4A16, -1), w8a8 = quant_error(QK_W8A8, 0), fp8 = quant_error(QK_FP8, 0);
    print_message("quantization error: fp16 %.2e, w8a16 %.2e, w4a16 g32 %.2e, w4a16 per-channel %.2e, w8a8 %.2e, "
                  "fp8 %.2e\n", fp16, w8, w4g, w4c, w8a8, fp8);
    assert_true(fp16 < 1e-3);
    assert_true(w8 > fp16 && w8 < 0.02);
    assert_true(w4g > w8 && w4g < 0.2);
    assert_true(w4c > w4g);
    assert_true(w8a8 > w8); /* outlier channels make per-token int8 activations cost more */
    assert_true(fp8 < 0.1);
}

static void test_bad_problems(void **state)
{
    (void)state;
    qc_msgs err = {0};
    qk_problem p = {.scheme = QK_W4A16, .m = 1, .n = 16, .k = 100, .group = 32};
    assert_int_equal(qk_problem_check(&p, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[0], "K=100 is not a multiple of the group size 32"));
    p.k = 0;
    assert_int_equal(qk_problem_check(&p, &err), QC_EINPUT);
    p = (qk_problem){.scheme = QK_W4A16, .m = 1, .n = 16, .k = 96, .group = 12};
    assert_int_equal(qk_problem_check(&p, &err), QC_EINPUT);
    p = (qk_problem){.scheme = QK_W8A8, .m = 1, .n = 16, .k = 96, .asym = 1};
    assert_int_equal(qk_problem_check(&p, &err), QC_EINPUT);
    /* configurations that cannot run are rejected with a reason */
    p = (qk_problem){.scheme = QK_W4A8, .m = 4, .n = 16, .k = 256, .group = 64};
    const qk_kernel *k = qk_kernel_find("w4a8.avx2");
    qk_config cfg;
    qc_msgs_free(&err);
    assert_int_equal(qk_config_parse(k, &p, "kc=96", &cfg, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[0], "kc=96 is not a multiple of the group size 64"));
    assert_int_equal(qk_config_parse(k, &p, "mr=9", &cfg, &err), QC_EINPUT);
    assert_int_equal(qk_config_parse(k, &p, "bogus=1", &cfg, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[2], "has no parameter 'bogus'"));
    assert_int_equal(qk_config_parse(k, &p, "mr", &cfg, &err), QC_EINPUT);
    assert_int_equal(qk_config_parse(k, &p, "threads=0", &cfg, &err), QC_EINPUT);
    /* int32 accumulation of int8 products has a bound on K */
    p = (qk_problem){.scheme = QK_W8A8, .m = 1, .n = 16, .k = 70000};
    assert_int_equal(qk_config_parse(qk_kernel_find("w8a8.avx2"), &p, NULL, &cfg, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[err.n - 1], "K=70000: int32 accumulators hold at most K = 65536"));
    qc_msgs_free(&err);
}

/* The GPU layouts hold the CPU packing's values: dequantized, they are the same operand
 * (the weight-only tensor-core path rounds it to fp16, and says so). */
static void test_cuda_layouts(void **state)
{
    (void)state;
    const int groups[] = {128, -1};
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        for (int gi = 0; gi < 2; gi++)
            for (int asym = 0; asym <= qk_scheme_grouped((qk_scheme)s); asym++) {
                if (!qk_scheme_grouped((qk_scheme)s) && gi)
                    continue;
                qk_problem p = {.scheme = (qk_scheme)s, .m = 1, .n = 52, .k = 256,
                                .group = qk_scheme_grouped((qk_scheme)s) ? groups[gi] : 0, .asym = asym,
                                .fp8_channel = s == QK_FP8 && gi};
                size_t nk = (size_t)p.n * p.k;
                float *w = malloc(nk * 4), *a = malloc(nk * 4), *b = malloc(nk * 4);
                qk_fill_weights(w, nk, 99);
                qk_weights cpu, gpu;
                assert_int_equal(qk_weights_pack(&(qk_packing){QK_LAYOUT_CPU, 16}, &p, w, &cpu, NULL), QC_OK);
                assert_int_equal(qk_weights_pack(&(qk_packing){QK_LAYOUT_CUDA, 0}, &p, w, &gpu, NULL), QC_OK);
                assert_int_equal(gpu.layout, QK_LAYOUT_CUDA);
                qk_weights_dequant(&cpu, a);
                qk_weights_dequant(&gpu, b);
                int fp16_operand = s == QK_W4A16 || s == QK_W8A16;
                for (size_t i = 0; i < nk; i++) {
                    float want = fp16_operand ? qk_half_to_float(qk_float_to_half(a[i])) : a[i];
                    if (b[i] != want)
                        print_error("%s g%d: element %zu: gpu %g, cpu %g\n", qk_scheme_name((qk_scheme)s), p.group, i,
                                    b[i], want);
                    assert_true(b[i] == want);
                }
                /* one figure: the packed weights' bytes are the cost function's, in either layout */
                qk_cost c = qk_problem_cost(&p);
                assert_true((double)gpu.bytes == c.weight_bytes && (double)cpu.bytes == c.weight_bytes);
                qk_weights_free(&cpu);
                qk_weights_free(&gpu);
                free(w), free(a), free(b);
            }
    /* the CUDA kernels are in the registry, and refuse to run where there is no device */
    char why[256];
    if (!qk_cuda_available_here(why, sizeof why)) {
        print_message("no CUDA here: %s\n", why);
        for (int s = 0; s < QK_SCHEME_COUNT; s++)
            assert_null(qk_kernel_best_cuda((qk_scheme)s));
    }
    const qk_kernel *k = qk_kernel_find("w4a16.cuda");
    assert_non_null(k);
    assert_true(qk_kernel_is_cuda(k));
    qk_problem bad = {.scheme = QK_W4A16, .m = 1, .n = 64, .k = 200, .group = -1};
    qk_config cfg;
    qc_msgs err = {0};
    assert_int_equal(qk_config_parse(k, &bad, NULL, &cfg, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[0], "K % 64 == 0"));
    qc_msgs_free(&err);
}

static void test_registry(void **state)
{
    (void)state;
    /* every scheme has a generic kernel; names are unique; parameter spaces are non-empty */
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        const qk_kernel *best = qk_kernel_best((qk_scheme)s);
        assert_non_null(best);
        assert_int_equal(best->scheme, s);
    }
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = qk_kernel_get(i);
        assert_ptr_equal(qk_kernel_find(k->name), k);
        for (int j = 0; j < k->n_params; j++) {
            int vals[16];
            assert_true(qk_param_values(k, j, vals, 16) > 0);
        }
        qk_problem p = {.scheme = k->scheme, .m = 5, .n = 64, .k = 256, .group = 64}; /* valid for every kernel */
        qk_config cfg;
        char text[128];
        qk_kernel_defaults(k, &p, &cfg);
        qk_config_format(k, &cfg, text, sizeof text);
        qk_config back;
        assert_int_equal(qk_config_parse(k, &p, text, &back, NULL), QC_OK);
        assert_memory_equal(&cfg, &back, sizeof cfg);
        /* every kernel names its compute roof and its packing */
        static const char *const formats[] = {"fp32_fma", "bf16_dot", "int8_dot", "fp16_tensor", "int8_tensor",
                                              "fp8_tensor"};
        const char *f = qk_kernel_format(k, &cfg);
        int known = 0;
        for (int j = 0; j < 6; j++)
            known |= f && !strcmp(f, formats[j]);
        if (!known)
            print_error("%s: format %s\n", k->name, f ? f : "(none)");
        assert_true(known);
        if (qk_kernel_is_cuda(k))
            assert_int_equal(k->packing.layout, QK_LAYOUT_CUDA);
        else if (k->packing.layout == QK_LAYOUT_ONEDNN)
            assert_true(qk_kernel_is_provider(k));
        else
            assert_true(k->packing.layout == QK_LAYOUT_CPU && k->packing.nr > 0);
        /* parameters by name */
        for (int j = 0; j < k->n_params; j++) {
            assert_int_equal(qk_param_index(k, k->params[j].name), j);
            assert_int_equal(qk_config_get(k, &cfg, k->params[j].name, -7), cfg.v[j]);
        }
        assert_int_equal(qk_config_get(k, &cfg, "no-such-parameter", -7), -7);
    }
    /* a configuration that picks another inner loop meets another roof */
    const qk_kernel *bf = qk_kernel_find("w4a16.avx512bf16");
    qk_problem p = {.scheme = QK_W4A16, .m = 1, .n = 64, .k = 256, .group = 64};
    qk_config cfg;
    assert_int_equal(qk_config_parse(bf, &p, "predequant=0", &cfg, NULL), QC_OK);
    assert_string_equal(qk_kernel_format(bf, &cfg), "bf16_dot");
    assert_int_equal(qk_config_parse(bf, &p, "predequant=1", &cfg, NULL), QC_OK);
    assert_string_equal(qk_kernel_format(bf, &cfg), "fp32_fma");
    assert_string_equal(qk_kernel_format(qk_kernel_find("w8a8.avx512vnni"), &cfg), "int8_dot");
    /* w8a16 on bf16 k-pairs: with bf16 activations, the default at large M; fp16 ones are not
     * exact in bf16, and the configuration is refused */
    const qk_kernel *w8 = qk_kernel_find("w8a16.avx512bf16");
    p = (qk_problem){.scheme = QK_W8A16, .m = 256, .n = 64, .k = 256, .act_bf16 = 1};
    qk_kernel_defaults(w8, &p, &cfg);
    assert_int_equal(qk_config_get(w8, &cfg, "predequant", -1), 2);
    assert_string_equal(qk_kernel_format(w8, &cfg), "bf16_dot");
    p.act_bf16 = 0;
    qk_kernel_defaults(w8, &p, &cfg);
    assert_int_equal(qk_config_get(w8, &cfg, "predequant", -1), 1);
    assert_string_equal(qk_kernel_format(w8, &cfg), "fp32_fma");
    qc_msgs why = {0};
    assert_int_equal(qk_config_parse(w8, &p, "predequant=2", &cfg, &why), QC_EINPUT);
    assert_non_null(strstr(why.v[0], "not exact in bf16"));
    qc_msgs_free(&why);
    /* fp8's activations are e4m3: exact in bf16 whatever they came as */
    const qk_kernel *f8 = qk_kernel_find("fp8.avx512bf16");
    p.scheme = QK_FP8;
    qk_kernel_defaults(f8, &p, &cfg);
    assert_int_equal(qk_config_get(f8, &cfg, "predequant", -1), 2);
    /* weights packed for another panel width are refused, not misread */
    const qk_kernel *k = qk_kernel_find("fp16.generic");
    float w[64 * 32];
    qk_fill_weights(w, 64 * 32, 1);
    qk_weights qw;
    p = (qk_problem){.scheme = QK_FP16, .m = 1, .n = 64, .k = 32};
    assert_int_equal(qk_weights_pack(&(qk_packing){QK_LAYOUT_CPU, 8}, &p, w, &qw, NULL), QC_OK);
    uint16_t x[32] = {0x3c00};
    uint16_t y[64];
    qc_msgs err = {0};
    qk_kernel_defaults(k, &p, &cfg);
    void *work = qc_alloc(qk_kernel_workspace(k, &p, &cfg));
    assert_int_equal(qk_gemm(k, &cfg, &qw, x, 1, y, work, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[0], "panels of 16 channels"));
    free(work);
    qk_weights_free(&qw);
    qc_msgs_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_round_trip), cmocka_unit_test(test_bf16_round_trip), cmocka_unit_test(test_half_rounding_matches_f16c),
        cmocka_unit_test(test_e4m3),            cmocka_unit_test(test_registry),
        cmocka_unit_test(test_avx512_conversions),
        cmocka_unit_test(test_cuda_layouts),
        cmocka_unit_test(test_bad_problems),    cmocka_unit_test(test_fp16),
        cmocka_unit_test(test_w8a16),           cmocka_unit_test(test_w4a16),
        cmocka_unit_test(test_w8a8),            cmocka_unit_test(test_w4a8),
        cmocka_unit_test(test_fp8), cmocka_unit_test(test_bf16),           cmocka_unit_test(test_quantization_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
