/* tuner/: the roofline fit recovers known parameters from synthetic points; crossovers agree
 * with a brute-force scan; tuning picks winners, calls ties within the noise (the default
 * stands), honours --max-error and custom buckets, and reports pruning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qk.h"
#include "tuner/roofline.h"

static int synth(qk_scheme s, const qt_model *m, double noise, double *b, double *f, double *t)
{
    static const int shapes[][2] = {{64, 64}, {256, 256}, {1024, 1024}, {4096, 4096}, {4096, 14336}};
    uint64_t r = 12345;
    int n = 0;
    for (int i = 0; i < 5; i++)
        for (int mm = 1; mm <= 1024; mm *= 2) {
            qk_problem p = {.scheme = s, .m = mm, .n = shapes[i][0], .k = shapes[i][1], .group = 128};
            qk_cost c = qk_problem_cost(&p);
            b[n] = c.bytes;
            f[n] = c.flops;
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            double u = ((r >> 11) * 0x1p-53) * 2 - 1; /* −1..1 */
            t[n] = qt_predict(m, c.bytes, c.flops) * (1 + noise * u);
            n++;
        }
    return n;
}

static void test_fit_recovers_known_model(void **state)
{
    (void)state;
    const qt_model truth = {.bw_gbs = 35.0, .peak_gops = 230.0, .t0_s = 20e-6};
    double b[64], f[64], t[64], res;
    int n = synth(QK_FP16, &truth, 0, b, f, t);
    qt_model fit;
    assert_int_equal(qt_fit(b, f, t, n, &fit, &res, NULL), QC_OK);
    print_message("noiseless: BW %.4f (35), P %.4f (230), t0 %.4g (2e-5), residual %.2e\n", fit.bw_gbs, fit.peak_gops,
                  fit.t0_s, res);
    assert_true(fabs(fit.bw_gbs / truth.bw_gbs - 1) < 0.02);
    assert_true(fabs(fit.peak_gops / truth.peak_gops - 1) < 0.02);
    assert_true(fabs(fit.t0_s / truth.t0_s - 1) < 0.02);
    assert_true(res < 1e-3);
    /* ±4% noise and one wild outlier: the Huber loss keeps it close */
    n = synth(QK_W8A8, &truth, 0.04, b, f, t);
    t[7] *= 5;
    assert_int_equal(qt_fit(b, f, t, n, &fit, &res, NULL), QC_OK);
    print_message("noisy + outlier: BW %.3f, P %.3f, t0 %.4g, residual %.3f\n", fit.bw_gbs, fit.peak_gops, fit.t0_s,
                  res);
    assert_true(fabs(fit.bw_gbs / truth.bw_gbs - 1) < 0.05);
    assert_true(fabs(fit.peak_gops / truth.peak_gops - 1) < 0.05);
    assert_true(fabs(fit.t0_s / truth.t0_s - 1) < 0.10);
    /* too few points */
    qc_msgs err = {0};
    assert_int_equal(qt_fit(b, f, t, 2, &fit, &res, &err), QC_EINPUT);
    qc_msgs_free(&err);
}

static void test_crossover_matches_brute_force(void **state)
{
    (void)state;
    const qt_model w4 = {.bw_gbs = 35, .peak_gops = 600, .t0_s = 5e-6}; /* 4-bit weights, slower math */
    const qt_model w8 = {.bw_gbs = 35, .peak_gops = 900, .t0_s = 5e-6}; /* int8 dot products */
    int shapes[][2] = {{4096, 14336}, {4096, 4096}, {1024, 4096}};
    for (int i = 0; i < 3; i++) {
        qk_problem a4 = {.scheme = QK_W4A16, .n = shapes[i][0], .k = shapes[i][1], .group = 128};
        qk_problem a8 = {.scheme = QK_W8A8, .n = shapes[i][0], .k = shapes[i][1]};
        int dir, m = qt_crossover(&w4, &a4, &w8, &a8, 1 << 16, &dir);
        /* brute force: the first M where w8a8 becomes faster */
        int want = 0;
        for (int mm = 1; mm <= 1 << 16 && !want; mm++) {
            qk_problem a = {.scheme = QK_W4A16, .m = mm, .n = shapes[i][0], .k = shapes[i][1], .group = 128};
            qk_problem b = a;
            b.scheme = QK_W8A8;
            qk_cost ca = qk_problem_cost(&a), cb = qk_problem_cost(&b);
            if (qt_predict(&w8, cb.bytes, cb.flops) < qt_predict(&w4, ca.bytes, ca.flops))
                want = mm;
        }
        print_message("w4a16 → w8a8 at M=%d for %dx%d (brute force %d)\n", m, shapes[i][0], shapes[i][1], want);
        assert_int_equal(dir, +1);
        assert_true(want > 4);
        assert_int_equal(m, want);
    }
    /* models that never cross */
    const qt_model slow = {.bw_gbs = 10, .peak_gops = 50, .t0_s = 5e-6};
    int dir;
    qk_problem p8 = {.scheme = QK_W8A8, .n = 4096, .k = 4096};
    assert_int_equal(qt_crossover(&w8, &p8, &slow, &p8, 1 << 16, &dir), 0);
}

static qt_obs obs(int scheme, const char *config, int m, double t, double cv, double qerr, int is_default)
{
    qt_obs o;
    memset(&o, 0, sizeof o);
    snprintf(o.kernel, sizeof o.kernel, "k%d", scheme);
    snprintf(o.config, sizeof o.config, "%s", config);
    o.threads = strstr(config, "threads=1") ? 1 : 2;
    o.p = (qk_problem){.scheme = (qk_scheme)scheme, .m = m, .n = 4096, .k = 4096,
                       .group = scheme == QK_W4A16 ? 128 : 0};
    qk_cost c = qk_problem_cost(&o.p);
    o.bytes = c.bytes;
    o.flops = c.flops;
    o.time_s = t;
    o.cv = cv;
    o.quant_error = qerr;
    o.is_default = is_default;
    return o;
}

static const qt_winner *find(const qt_tuned *t, int scheme, int m_hi)
{
    for (int i = 0; i < t->n; i++)
        if ((int)t->v[i].p.scheme == scheme && t->v[i].m_hi == m_hi)
            return &t->v[i];
    return NULL;
}

static void test_tune_winners_ties_and_limits(void **state)
{
    (void)state;
    qt_obs o[] = {
        /* M=1: the other configuration is 3% faster, but the noise is 5%: a tie, the default stands */
        obs(QK_FP16, "threads=2,mr=1", 1, 1.00e-3, 0.05, 2e-4, 1),
        obs(QK_FP16, "threads=2,mr=2", 1, 0.97e-3, 0.05, 2e-4, 0),
        /* M=4: 20% faster with 1% noise: a real winner */
        obs(QK_FP16, "threads=2,mr=4", 4, 1.00e-3, 0.01, 2e-4, 1),
        obs(QK_FP16, "threads=2,mr=3", 4, 0.80e-3, 0.01, 2e-4, 0),
        /* M=3 and M=4 share the bucket (2, 4]: the larger M represents it */
        obs(QK_FP16, "threads=2,mr=3", 3, 0.70e-3, 0.01, 2e-4, 0),
        /* a scheme over the error budget */
        obs(QK_W4A16, "threads=2,mr=1", 1, 0.3e-3, 0.01, 0.15, 1),
        obs(QK_W8A16, "threads=2,mr=1", 1, 0.5e-3, 0.01, 0.012, 1),
    };
    int n = sizeof o / sizeof o[0];
    qt_tune_opts opt = {0};
    qt_tuned t;
    assert_int_equal(qt_tune(o, n, &opt, &t, NULL), QC_OK);
    const qt_winner *w1 = find(&t, QK_FP16, 1), *w4 = find(&t, QK_FP16, 4);
    assert_non_null(w1);
    assert_true(w1->tie);
    assert_string_equal(w1->config, "threads=2,mr=1");
    assert_non_null(w4);
    assert_false(w4->tie);
    assert_string_equal(w4->config, "threads=2,mr=3");
    assert_int_equal(w4->p.m, 4);
    assert_int_equal(w4->m_lo, 2);
    assert_non_null(find(&t, QK_W4A16, 1));
    qt_tuned_free(&t);

    /* "the fastest scheme within 2% error": w4a16 (15%) goes, w8a16 (1.2%) stays */
    opt.max_error = 0.02;
    assert_int_equal(qt_tune(o, n, &opt, &t, NULL), QC_OK);
    assert_null(find(&t, QK_W4A16, 1));
    assert_non_null(find(&t, QK_W8A16, 1));
    assert_true(t.excluded[QK_W4A16]);
    assert_false(t.excluded[QK_W8A16]);
    qt_tuned_free(&t);

    /* custom buckets: 1, 16, 256 */
    int edges[] = {1, 16, 256}, lo;
    opt.bucket_edges = edges;
    opt.n_edges = 3;
    assert_int_equal(qt_bucket(&opt, 1, &lo), 1);
    assert_int_equal(lo, 0);
    assert_int_equal(qt_bucket(&opt, 3, &lo), 16);
    assert_int_equal(lo, 1);
    assert_int_equal(qt_bucket(&opt, 300, &lo), 1 << 30);
    assert_int_equal(lo, 256);
    opt.bucket_edges = NULL;
    opt.n_edges = 0;
    assert_int_equal(qt_bucket(&opt, 5, &lo), 8);
    assert_int_equal(lo, 4);

    /* a noisy winner is a tie: 10% faster, beyond twice its spread (cv 3.5%), but its timing never
     * settled within the target: the default stands; a quiet one of the same margin wins */
    qt_obs nz[] = {obs(QK_FP16, "threads=2,mr=1", 8, 1.00e-3, 0.01, 2e-4, 1),
                   obs(QK_FP16, "threads=2,mr=2", 8, 0.90e-3, 0.035, 2e-4, 0)};
    nz[1].noisy = 1;
    assert_int_equal(qt_tune(nz, 2, &opt, &t, NULL), QC_OK);
    assert_true(t.v[0].tie);
    assert_string_equal(t.v[0].config, "threads=2,mr=1");
    qt_tuned_free(&t);
    nz[1].noisy = 0;
    nz[1].cv = 0.01;
    assert_int_equal(qt_tune(nz, 2, &opt, &t, NULL), QC_OK);
    assert_false(t.v[0].tie);
    assert_string_equal(t.v[0].config, "threads=2,mr=2");
    qt_tuned_free(&t);

    /* nothing usable: a clear error */
    qc_msgs err = {0};
    qt_obs none = obs(QK_FP16, "threads=2", 1, 0, 0, -1, 1);
    assert_int_equal(qt_tune(&none, 1, &opt, &t, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[0], "no correct, timed point"));
    qc_msgs_free(&err);
}

static void test_pruning_report(void **state)
{
    (void)state;
    /* two variants of a kernel: 2 threads (fast) and 1 thread (twice as slow), each on the same
     * memory/compute model; pruning should skip the 1-thread points and keep the winners */
    const qt_model two = {.bw_gbs = 35, .peak_gops = 230, .t0_s = 5e-6}, one = {.bw_gbs = 18, .peak_gops = 115, .t0_s = 5e-6};
    qt_obs o[32];
    int n = 0;
    for (int m = 1; m <= 256; m *= 4) {
        o[n] = obs(QK_FP16, "threads=2,mr=4", m, 0, 0.01, 2e-4, 1);
        o[n].time_s = qt_predict(&two, o[n].bytes, o[n].flops);
        n++;
        o[n] = obs(QK_FP16, "threads=1,mr=4", m, 0, 0.01, 2e-4, 0);
        o[n].time_s = qt_predict(&one, o[n].bytes, o[n].flops);
        n++;
    }
    qt_tune_opts opt = {0};
    qt_tuned t;
    assert_int_equal(qt_tune(o, n, &opt, &t, NULL), QC_OK);
    print_message("pruning: %d of %d points kept, same winner in %d of %d cells\n", t.points_kept, t.points,
                  t.same_winners, t.cells);
    assert_int_equal(t.points, n);
    assert_int_equal(t.points_kept, n / 2);
    assert_int_equal(t.same_winners, t.cells);
    qt_tuned_free(&t);
}

/* The one answer to "what bounds this point": the kernel's number format, in its configuration,
 * against the profile's peak of that format and its DRAM read bandwidth. */
static void test_roof_is_the_kernels_format(void **state)
{
    (void)state;
    qp_profile *cpu = qp_profile_new("test-cpu", "Example", QP_BACKEND_CPU, "*");
    qp_bandwidth b2 = {.level = "DRAM", .threads = 2, .read_gbs = 37.0}, b1 = {.level = "DRAM", .threads = 1,
                                                                              .read_gbs = 28.0};
    qp_profile_add_bandwidth(cpu, &b2);
    qp_profile_add_bandwidth(cpu, &b1);
    const qp_peak peaks[] = {{"fp32_fma", "avx2", 2, 235, 0}, {"bf16_dot", "avx512bf16", 2, 472, 0},
                             {"int8_dot", "avx512vnni", 2, 944, 0}, {"fp32_fma", "avx2", 1, 118, 0}};
    for (int i = 0; i < 4; i++)
        qp_profile_add_peak(cpu, &peaks[i]);
    const qk_kernel *bf = qk_kernel_find("w4a16.avx512bf16"), *vnni = qk_kernel_find("w8a8.avx512vnni");
    qk_problem p = {.scheme = QK_W4A16, .m = 1, .n = 4096, .k = 4096, .group = 128};
    qk_config cfg;
    qt_roof r;
    assert_int_equal(qk_config_parse(bf, &p, "threads=2,predequant=0", &cfg, NULL), QC_OK);
    assert_true(qt_roof_of(cpu, bf, &cfg, &r));
    assert_string_equal(r.format, "bf16_dot");
    assert_true(r.model.bw_gbs == 37.0 && r.model.peak_gops == 472);
    assert_string_equal(r.source, "measured");
    assert_int_equal(qk_config_parse(bf, &p, "threads=1,predequant=1", &cfg, NULL), QC_OK);
    assert_true(qt_roof_of(cpu, bf, &cfg, &r)); /* the dequantize-once loop: fp32 FMA, on one thread */
    assert_string_equal(r.format, "fp32_fma");
    assert_true(r.model.bw_gbs == 28.0 && r.model.peak_gops == 118);
    double att;
    qk_cost c = qk_problem_cost(&p);
    assert_string_equal(qt_place(&r, c.bytes, c.flops, &att), "memory");
    assert_true(fabs(att - c.flops / (c.bytes / 28e9) / 1e9) < 1e-9 * att);
    p.scheme = QK_W8A8;
    p.group = 0;
    qk_kernel_defaults(vnni, &p, &cfg);
    assert_true(qt_roof_of(cpu, vnni, &cfg, &r));
    assert_true(r.model.peak_gops == 944);
    /* a GPU known by its datasheet only: the CUDA kernels' formats against the spec */
    qp_profile *gpu = qp_profile_new("test-gpu", "Example", QP_BACKEND_CUDA, "*");
    qp_profile_set(gpu, QP_MEMORY_BANDWIDTH_GBS, 3350, "sheet", NULL);
    qp_profile_set(gpu, QP_FP16_TFLOPS, 989, "sheet", NULL);
    qp_profile_set(gpu, QP_INT8_TOPS, 1979, "sheet", NULL);
    const qk_kernel *w4 = qt_kernel_for(gpu, QK_W4A16), *lt8 = qt_kernel_for(gpu, QK_W8A8), *f8 = qt_kernel_for(gpu, QK_FP8);
    assert_string_equal(w4->name, "w4a16.cuda");
    p = (qk_problem){.scheme = QK_W4A16, .m = 1, .n = 4096, .k = 4096, .group = 128};
    qk_kernel_defaults(w4, &p, &cfg);
    assert_true(qt_roof_of(gpu, w4, &cfg, &r));
    assert_true(r.model.bw_gbs == 3350 && r.model.peak_gops == 989000);
    assert_string_equal(r.source, "spec");
    qk_kernel_defaults(lt8, &p, &cfg);
    assert_true(qt_roof_of(gpu, lt8, &cfg, &r) && r.model.peak_gops == 1979000);
    qk_kernel_defaults(f8, &p, &cfg);
    assert_false(qt_roof_of(gpu, f8, &cfg, &r)); /* no fp8 figure: no roof, never a guess */
    /* the model to predict with: the fit when the profile has one for the scheme */
    qt_model m;
    const char *basis;
    qk_kernel_defaults(w4, &p, &cfg);
    assert_true(qt_model_of(gpu, w4, &cfg, &m, &basis));
    assert_string_equal(basis, "spec");
    qp_fit_model fm = {.scheme = "w4a16", .bw_gbs = 3000, .peak_gops = 500000, .t0_s = 4e-6, .points = 9};
    qp_profile_set_fit(gpu, "0123456789abcdef", &fm, 1);
    assert_true(qt_model_of(gpu, w4, &cfg, &m, &basis));
    assert_string_equal(basis, "fit");
    assert_true(m.bw_gbs == 3000 && m.t0_s == 4e-6);
    qp_profile_free(cpu);
    qp_profile_free(gpu);
}

/* The tuner's key carries the options (zero points, output type, fp8 scale), and the winning
 * scheme of a cell is chosen among the schemes whose options match it: an int4 group is not
 * compared with another group. */
static void test_keys_and_cells(void **state)
{
    (void)state;
    qt_obs o[] = {
        obs(QK_FP16, "threads=2", 1, 1.0e-3, 0.01, 2e-4, 1),
        obs(QK_W4A16, "threads=2", 1, 0.5e-3, 0.01, 0.1, 1),
        obs(QK_W4A16, "threads=2", 1, 2.0e-3, 0.01, 0.1, 1),
        obs(QK_W4A16, "threads=2", 1, 0.4e-3, 0.01, 0.1, 1),
        obs(QK_FP16, "threads=2", 1, 1.5e-3, 0.01, 2e-4, 1),
    };
    o[2].p.group = 32;                      /* slower at g32 */
    o[3].p.asym = 1;                        /* asymmetric: another key */
    o[4].p.out_f32 = 1;                     /* fp32 output: another key */
    qt_tune_opts opt = {0};
    qt_tuned t;
    assert_int_equal(qt_tune(o, 5, &opt, &t, NULL), QC_OK);
    assert_int_equal(t.n, 5); /* every key its own winner */
    qt_cell *cells;
    int n;
    assert_int_equal(qt_cells(&t, &cells, &n), QC_OK);
    /* f16 output: (g128 sym), (g32 sym), (g128 asym); f32 output: the same three, fp16 alone */
    assert_int_equal(n, 6);
    for (int i = 0; i < n; i++) {
        const qt_cell *c = &cells[i];
        print_message("cell g%d%s %s: %s of %d\n", c->key.group, c->key.asym ? " asym" : "", c->key.out_f32 ? "f32" : "f16",
                      qk_scheme_name((qk_scheme)c->scheme), c->candidates);
        if (c->key.out_f32) {
            assert_int_equal(c->scheme, QK_FP16);
            assert_int_equal(c->candidates, 1);
        } else if (c->key.group == 32) {
            assert_int_equal(c->scheme, QK_FP16); /* w4a16 g32 is slower: g128's speed does not count here */
            assert_int_equal(c->candidates, 2);
        } else {
            assert_int_equal(c->scheme, QK_W4A16);
            assert_true(c->w->p.asym == c->key.asym);
        }
    }
    free(cells);
    qt_tuned_free(&t);
}

/* Whatever strings reach the header (the device name in its comment, configurations in string
 * literals), it compiles and says them back exactly. */
static void test_header_escapes(void **state)
{
    (void)state;
    qt_obs o[3];
    for (int i = 0; i < 3; i++)
        o[i] = obs(QK_FP16, "threads=2", 1 << i, (1 + i) * 1e-3, 0.01, 2e-4, 1);
    snprintf(o[0].config, sizeof o[0].config, "a\"b\\c?\?/*/\n#error x"); /* ?\? : no trigraph here */
    qt_tune_opts opt = {0};
    qt_tuned t;
    assert_int_equal(qt_tune(o, 3, &opt, &t, NULL), QC_OK);
    qt_scheme_fit fits[QK_SCHEME_COUNT];
    qt_fit_schemes(o, 3, fits, NULL);
    qt_emit_info info = {.device = "a*/\n#error injected\n/*", .source_hash = "0123456789abcdef", .fits = fits,
                         .tuned = &t};
    char dir[] = "/tmp/qbench-esc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char hdr[128], src[128], cmd[512];
    snprintf(hdr, sizeof hdr, "%s/d.h", dir);
    snprintf(src, sizeof src, "%s/t.c", dir);
    FILE *f = fopen(hdr, "w");
    assert_int_equal(qt_emit(&info, "header", f, NULL), QC_OK);
    fclose(f);
    f = fopen(src, "w");
    fprintf(f, "#include <string.h>\n#include \"d.h\"\nint main(void)\n{\n    qbd_a____error_injected____choice c;\n"
               "    return !(qbd_a____error_injected____lookup(QBD_A____ERROR_INJECTED____FP16, 0, 1, 4096, 4096, 0, &c) &&\n"
               "             !strcmp(c.config, \"a\\\"b\\\\c\\077\\077/*/\\n#error x\"));\n}\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -std=c99 -Wall -Wextra -Werror -pedantic -o %s/t %s && %s/t", dir, src, dir);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "cat %s", hdr);
        (void)system(cmd);
    }
    assert_int_equal(rc, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    qt_tuned_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_recovers_known_model),
        cmocka_unit_test(test_crossover_matches_brute_force),
        cmocka_unit_test(test_tune_winners_ties_and_limits),
        cmocka_unit_test(test_pruning_report),
        cmocka_unit_test(test_roof_is_the_kernels_format),
        cmocka_unit_test(test_keys_and_cells),
        cmocka_unit_test(test_header_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
