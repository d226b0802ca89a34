/* tuner/: the fit recovers a kernel's known efficiencies, t0 and register tile from synthetic
 * points (cross-validation error about 0; close with noise and an outlier; held-out points
 * predicted); crossovers agree with a brute-force scan; tuning picks winners, calls ties within
 * the noise (the default stands), honours --max-error, custom buckets and re-measured verdicts,
 * reports pruning; cells name ties between schemes. */
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

/* Observations of one kernel from a known model: the ceilings (35 GB/s, 230 GOP/s), its
 * efficiencies, its decoding (60 G weights/s per pass), the share of the shorter side it leaves
 * exposed, t0 and a register tile of mr rows, over five shapes and M = 1 .. 1024 (every M up to
 * 48, to show the tile's steps), with ±noise and its register tile as the fit sees it (fit_mr). */
static int synth_exposed(const char *kernel, double em, double ec, double exposed, double t0, int mr, int fit_mr,
                         double noise, qt_obs *o)
{
    static const int shapes[][2] = {{64, 64}, {256, 256}, {1024, 1024}, {4096, 4096}, {4096, 14336}};
    uint64_t r = 12345;
    int n = 0;
    for (int i = 0; i < 5; i++)
        for (int mm = 1; mm <= 1024; mm = mm < 48 ? mm + 1 : mm * 2) {
            qt_obs *x = &o[n++];
            memset(x, 0, sizeof *x);
            x->p = (qk_problem){.scheme = QK_FP16, .m = mm, .n = shapes[i][0], .k = shapes[i][1]};
            qk_cost c = qk_problem_cost(&x->p);
            x->bytes = c.bytes;
            x->flops = c.flops;
            x->bw_gbs = 35;
            x->peak_gops = 230;
            x->mr = fit_mr;
            x->threads = 2;
            snprintf(x->kernel, sizeof x->kernel, "%s", kernel);
            snprintf(x->format, sizeof x->format, "fp32_fma");
            snprintf(x->config, sizeof x->config, "threads=2");
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            double u = ((r >> 11) * 0x1p-53) * 2 - 1; /* −1..1 */
            const qt_model m = {35 * em, 230 * ec, t0, mr, 60, exposed};
            x->time_s = qt_predict(&m, c.bytes, c.flops, mm) * (1 + noise * u);
        }
    return n;
}

/* The same with the roofline's max: the longer side hides the shorter wholly. */
static int synth(const char *kernel, double em, double ec, double t0, int mr, int fit_mr, double noise, qt_obs *o)
{
    return synth_exposed(kernel, em, ec, 0, t0, mr, fit_mr, noise, o);
}

static void test_fit_recovers_known_model(void **state)
{
    (void)state;
    enum { MAX = 512 };
    qt_obs *o = calloc(MAX, sizeof *o);
    qt_fitted f;
    int n = synth("fp16.test", 0.8, 0.7, 20e-6, 6, 6, 0, o);
    assert_int_equal(qt_fit_kernels(o, n, &f, NULL), QC_OK);
    assert_int_equal(f.n, 1);
    print_message("noiseless: e_mem %.4f (0.8), e_comp %.4f (0.7), decode %.2f G/s (60), t0 %.4g (2e-5), in sample "
                  "%.2e, shape left out %.2e\n", f.v[0].mem_eff, f.v[0].comp_eff, f.v[0].decode_gws, f.t0_s,
                  f.v[0].fit.max, f.v[0].cv.max);
    assert_true(fabs(f.v[0].mem_eff / 0.8 - 1) < 0.02);
    assert_true(fabs(f.v[0].comp_eff / 0.7 - 1) < 0.02);
    assert_true(fabs(f.v[0].decode_gws / 60 - 1) < 0.02);
    assert_true(fabs(f.t0_s / 20e-6 - 1) < 0.02);
    assert_true(f.v[0].fit.max < 0.005 && f.v[0].cv.max < 0.005); /* cross-validation error about 0 */
    assert_true(f.v[0].exposed < 0.01);
    assert_int_equal(f.v[0].shapes, 5);
    assert_int_equal(f.cv[QK_FP16].n, n);
    qt_fitted_free(&f);
    /* a kernel whose sides overlap poorly: 40% of the shorter one stays exposed */
    n = synth_exposed("fp16.test", 0.8, 0.7, 0.4, 20e-6, 6, 6, 0, o);
    assert_int_equal(qt_fit_kernels(o, n, &f, NULL), QC_OK);
    print_message("exposed 0.4: e_mem %.4f, e_comp %.4f, decode %.2f G/s, exposed %.4f, t0 %.4g, shape left out %.2e\n",
                  f.v[0].mem_eff, f.v[0].comp_eff, f.v[0].decode_gws, f.v[0].exposed, f.t0_s, f.v[0].cv.max);
    assert_true(fabs(f.v[0].mem_eff / 0.8 - 1) < 0.02);
    assert_true(fabs(f.v[0].comp_eff / 0.7 - 1) < 0.02);
    assert_true(fabs(f.v[0].decode_gws / 60 - 1) < 0.02);
    assert_true(fabs(f.v[0].exposed - 0.4) < 0.02);
    assert_true(f.v[0].fit.max < 0.005 && f.v[0].cv.max < 0.005);
    qt_fitted_free(&f);
    /* ±4% noise and one wild outlier: the Huber loss keeps it close */
    n = synth("fp16.test", 0.8, 0.7, 20e-6, 6, 6, 0.04, o);
    o[7].time_s *= 5;
    assert_int_equal(qt_fit_kernels(o, n, &f, NULL), QC_OK);
    print_message("noisy + outlier: e_mem %.4f, e_comp %.4f, decode %.2f G/s, t0 %.4g, in-sample median %.3f\n",
                  f.v[0].mem_eff, f.v[0].comp_eff, f.v[0].decode_gws, f.t0_s, f.v[0].fit.median);
    assert_true(fabs(f.v[0].mem_eff / 0.8 - 1) < 0.05);
    assert_true(fabs(f.v[0].comp_eff / 0.7 - 1) < 0.05);
    assert_true(fabs(f.v[0].decode_gws / 60 - 1) < 0.10);
    assert_true(f.t0_s <= o[0].time_s); /* never more than the fastest call */
    /* and the report can name it: the largest error is the outlier's, predicted near its time
     * before it was made 5x slower (±4% noise) */
    assert_int_equal(f.fit[QK_FP16].worst, 7 + 1);
    assert_int_equal(f.v[0].fit.worst, 7 + 1);
    assert_true(fabs(f.fit[QK_FP16].worst_predicted_s / (o[7].time_s / 5) - 1) < 0.06);
    assert_true(fabs(f.fit[QK_FP16].max - (1 - f.fit[QK_FP16].worst_predicted_s / o[7].time_s)) < 1e-9);
    qt_fitted_free(&f);
    /* a register tile of 6 rows: captured when the fit knows it, a visible error when not */
    n = synth("fp16.test", 0.8, 0.7, 20e-6, 6, 6, 0, o);
    assert_int_equal(qt_fit_kernels(o, n, &f, NULL), QC_OK);
    double with_tile = f.v[0].fit.max;
    qt_fitted_free(&f);
    n = synth("fp16.test", 0.8, 0.7, 20e-6, 6, 1, 0, o);
    assert_int_equal(qt_fit_kernels(o, n, &f, NULL), QC_OK);
    print_message("register tile of 6: max in-sample error %.4f when the fit knows it, %.4f when not\n", with_tile,
                  f.v[0].fit.max);
    assert_true(with_tile < 0.005 && f.v[0].fit.max > 0.05);
    qt_fitted_free(&f);
    /* held out: points the fit does not see, predicted */
    n = synth("fp16.test", 0.8, 0.7, 20e-6, 6, 6, 0, o);
    for (int i = 0; i < n; i++)
        o[i].holdout = o[i].p.n == 1024;
    assert_int_equal(qt_fit_kernels(o, n, &f, NULL), QC_OK);
    assert_true(f.held[QK_FP16].n > 0 && f.held[QK_FP16].max < 0.005);
    assert_int_equal(f.v[0].shapes, 4);
    qt_fitted_free(&f);
    /* one held-out point 30% slow: the held-out error names it */
    int slow = -1;
    for (int i = 0; i < n && slow < 0; i++)
        if (o[i].holdout && o[i].p.m == 16)
            slow = i;
    o[slow].time_s *= 1.3;
    assert_int_equal(qt_fit_kernels(o, n, &f, NULL), QC_OK);
    assert_int_equal(f.held[QK_FP16].worst, slow + 1);
    assert_true(fabs(f.held[QK_FP16].max - 0.3 / 1.3) < 0.005);
    qt_fitted_free(&f);
    /* timed outside the machine's usual phase: three points 60% slow, in sample and held out,
     * change nothing the fit finds and are stated apart */
    n = synth("fp16.test", 0.8, 0.7, 20e-6, 6, 6, 0, o);
    for (int i = 0; i < n; i++)
        o[i].holdout = o[i].p.n == 1024;
    for (int i = 3; i < n; i += n / 3) {
        o[i].time_s *= 1.6;
        o[i].unusual = 1;
    }
    assert_int_equal(qt_fit_kernels(o, n, &f, NULL), QC_OK);
    assert_true(fabs(f.v[0].mem_eff / 0.8 - 1) < 0.02 && fabs(f.v[0].comp_eff / 0.7 - 1) < 0.02);
    assert_true(f.v[0].fit.max < 0.005 && f.held[QK_FP16].max < 0.005);
    assert_int_equal(f.unusual[QK_FP16].n, 3);
    assert_int_equal(f.fit[QK_FP16].n + f.held[QK_FP16].n + 3, n);
    assert_true(fabs(f.unusual[QK_FP16].max - 0.6 / 1.6) < 0.005);
    qt_fitted_free(&f);
    /* nothing to fit: a clear error */
    qc_msgs err = {0};
    assert_int_equal(qt_fit_kernels(o, 1, &f, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[0], "2 timed points"));
    qc_msgs_free(&err);
    free(o);
}

/* The model's crossovers against the measured ones, within one measured M: ties are where two
 * schemes cross, and pass no turn. */
static void test_orders_agree(void **state)
{
    (void)state;
    const int m[] = {+1, +1, +1, -1, -1};
    assert_true(qt_orders_agree(m, m, 5));
    assert_true(qt_orders_agree(m, (int[]){+1, +1, -1, -1, -1}, 5));  /* one M early */
    assert_true(qt_orders_agree(m, (int[]){+1, +1, +1, +1, -1}, 5));  /* one M late */
    assert_false(qt_orders_agree(m, (int[]){+1, -1, -1, -1, -1}, 5)); /* two M early */
    assert_false(qt_orders_agree(m, (int[]){+1, +1, +1, +1, +1}, 5)); /* no turn, and two M measured past it */
    assert_true(qt_orders_agree(m, (int[]){0, 0, 0, 0, 0}, 5));       /* all ties: nothing named against it */
    /* a measured tie beside the model's early turn: the crossing lies there */
    const int t[] = {+1, +1, 0, -1, -1};
    assert_true(qt_orders_agree(t, (int[]){+1, -1, -1, -1, -1}, 5));
    assert_false(qt_orders_agree(t, (int[]){-1, -1, -1, -1, -1}, 5));
    /* a measured turn past the last M: the model's "no turn up to M" is one M from it */
    assert_true(qt_orders_agree((int[]){+1, +1, +1, +1, -1}, (int[]){+1, +1, +1, +1, +1}, 5));
}

static void test_crossover_matches_brute_force(void **state)
{
    (void)state;
    qt_scheme_model w4 = {.present = 1, .small = {.bw_gbs = 35, .peak_gops = 600, .t0_s = 5e-6}, .split = INT32_MAX};
    qt_scheme_model w8 = {.present = 1, .small = {.bw_gbs = 35, .peak_gops = 900, .t0_s = 5e-6}, .split = INT32_MAX};
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
            if (qt_scheme_predict(&w8, cb.bytes, cb.flops, mm) < qt_scheme_predict(&w4, ca.bytes, ca.flops, mm))
                want = mm;
        }
        print_message("w4a16 → w8a8 at M=%d for %dx%d (brute force %d)\n", m, shapes[i][0], shapes[i][1], want);
        assert_int_equal(dir, +1);
        assert_true(want > 4);
        assert_int_equal(m, want);
    }
    /* models that never cross */
    qt_scheme_model slow = {.present = 1, .small = {.bw_gbs = 10, .peak_gops = 50, .t0_s = 5e-6}, .split = INT32_MAX};
    int dir;
    qk_problem p8 = {.scheme = QK_W8A8, .n = 4096, .k = 4096};
    assert_int_equal(qt_crossover(&w8, &p8, &slow, &p8, 1 << 16, &dir), 0);
    /* two loops: M up to the split on one, above it on another */
    qt_scheme_model two = {.present = 1, .small = {.bw_gbs = 35, .peak_gops = 100, .mr = 4},
                           .large = {.bw_gbs = 35, .peak_gops = 200, .mr = 6}, .split = 64};
    qk_problem q = {.scheme = QK_FP16, .m = 64, .n = 4096, .k = 4096};
    qk_cost c = qk_problem_cost(&q);
    assert_true(qt_scheme_predict(&two, c.bytes, c.flops, 64) == qt_predict(&two.small, c.bytes, c.flops, 64));
    q.m = 66;
    c = qk_problem_cost(&q);
    assert_true(qt_scheme_predict(&two, c.bytes, c.flops, 66) == qt_predict(&two.large, c.bytes, c.flops, 66));
    assert_true(qt_passes(66, 6) == 11 && qt_passes(7, 6) == 2 && qt_passes(7, 1) == 1 && qt_passes(7, 0) == 1);
    /* decoding per pass: one more pass of a 6-row tile costs N·K weights more */
    qt_model dm = {.bw_gbs = 1e9, .peak_gops = 1e9, .mr = 6, .decode_gws = 10};
    q.m = 7;
    c = qk_problem_cost(&q);
    assert_true(fabs(qt_predict(&dm, c.bytes, c.flops, 7) - (c.flops / 1e18 + 2.0 * 4096 * 4096 / 10e9)) < 1e-15);
    /* the two sides: the longer hides the shorter but for the exposed share */
    assert_true(qt_combine(3, 1, 0) == 3 && qt_combine(1, 3, 0) == 3);
    assert_true(qt_combine(3, 1, 1) == 4 && qt_combine(1, 3, 0.5) == 3.5);
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
    /* one kernel at 2 threads (fast) and at 1 thread (twice as slow) on the same ceilings; the
     * fitted model predicts each from its own efficiencies, so pruning skips the 1-thread points
     * and keeps the winners */
    const qt_model two = {.bw_gbs = 35, .peak_gops = 230, .t0_s = 5e-6}, one = {.bw_gbs = 17.5, .peak_gops = 115,
                                                                                .t0_s = 5e-6};
    qt_obs o[32];
    int n = 0;
    for (int m = 1; m <= 256; m *= 4)
        for (int t = 2; t >= 1; t--) {
            o[n] = obs(QK_FP16, t == 2 ? "threads=2,mr=4" : "threads=1,mr=4", m, 0, 0.01, 2e-4, t == 2);
            o[n].bw_gbs = 35;
            o[n].peak_gops = 230;
            snprintf(o[n].format, sizeof o[n].format, "fp32_fma");
            o[n].time_s = qt_predict(t == 2 ? &two : &one, o[n].bytes, o[n].flops, m);
            n++;
        }
    qt_fitted f;
    assert_int_equal(qt_fit_kernels(o, n, &f, NULL), QC_OK);
    assert_int_equal(f.n, 2);
    qt_tune_opts opt = {.fit = &f};
    qt_tuned t;
    assert_int_equal(qt_tune(o, n, &opt, &t, NULL), QC_OK);
    print_message("pruning: %d of %d points kept, same winner in %d of %d cells\n", t.points_kept, t.points,
                  t.same_winners, t.cells);
    assert_int_equal(t.points, n);
    assert_int_equal(t.points_kept, n / 2);
    assert_int_equal(t.same_winners, t.cells);
    qt_tuned_free(&t);
    qt_fitted_free(&f);
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
    /* the model to predict with: the ceilings times the kernel's fitted efficiencies when the
     * profile has them, with their basis; another profile's efficiencies on these ceilings say so */
    qt_model m;
    char basis[160];
    qk_kernel_defaults(w4, &p, &cfg);
    assert_true(qt_model_of(gpu, NULL, w4, &cfg, &m, basis, sizeof basis));
    assert_string_equal(basis, "spec");
    qp_fit_model fm = {.kernel = "w4a16.cuda", .format = "fp16_tensor", .mem_eff = 0.9, .comp_eff = 0.5, .points = 9,
                       .cv_median = 0.04, .cv_max = 0.1};
    qp_profile_set_fit(gpu, "0123456789abcdef", 4e-6, &fm, 1);
    assert_true(qt_model_of(gpu, NULL, w4, &cfg, &m, basis, sizeof basis));
    assert_string_equal(basis, "fit");
    assert_true(fabs(m.bw_gbs - 3350 * 0.9) < 1e-9 && fabs(m.peak_gops - 989000 * 0.5) < 1e-6 && m.t0_s == 4e-6);
    qp_profile *other = qp_profile_new("other-gpu", "Example", QP_BACKEND_CUDA, "*");
    qp_profile_set(other, QP_MEMORY_BANDWIDTH_GBS, 2000, "sheet", NULL);
    qp_profile_set(other, QP_FP16_TFLOPS, 300, "sheet", NULL);
    assert_true(qt_model_of(other, gpu, w4, &cfg, &m, basis, sizeof basis));
    assert_string_equal(basis, "fit of test-gpu on other-gpu's spec ceilings");
    assert_true(fabs(m.bw_gbs - 2000 * 0.9) < 1e-9);
    qt_scheme_model sm;
    assert_true(qt_scheme_model_of(other, gpu, QK_W4A16, &sm, basis, sizeof basis));
    assert_true(sm.cv.n == 9 && sm.cv.median == 0.04);
    qp_profile_free(other);
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
    assert_int_equal(qt_cells(&t, 0, &cells, &n), QC_OK);
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

/* Two schemes within the margin (or the noise) of each other are a tie: both named, the more
 * accurate first; beyond it, the faster wins alone. */
static void test_scheme_ties(void **state)
{
    (void)state;
    qt_obs o[] = {
        obs(QK_W8A8, "threads=2", 16, 1.000e-3, 0.005, 0.04, 1), /* the faster, less accurate */
        obs(QK_W4A8, "threads=2", 16, 1.020e-3, 0.005, 0.09, 1), /* 2% slower */
        obs(QK_W8A16, "threads=2", 16, 1.025e-3, 0.005, 0.012, 1), /* 2.5% slower, the most accurate */
    };
    o[1].p.group = 128;
    qt_tune_opts opt = {0};
    qt_tuned t;
    assert_int_equal(qt_tune(o, 3, &opt, &t, NULL), QC_OK);
    qt_cell *cells;
    int n;
    assert_int_equal(qt_cells(&t, 0, &cells, &n), QC_OK);
    assert_int_equal(n, 1);
    /* w8a8 and w4a8 within 3%: a tie; w4a8's error is the larger, so w8a8 is named first */
    assert_true(cells[0].tie);
    assert_int_equal(cells[0].scheme, QK_W8A8);
    assert_int_equal(cells[0].scheme2, QK_W4A8);
    free(cells);
    /* a margin of 1%: 2% apart is no tie (the noise, 0.5% each, is not enough either) */
    assert_int_equal(qt_cells(&t, 0.01, &cells, &n), QC_OK);
    assert_false(cells[0].tie);
    assert_int_equal(cells[0].scheme, QK_W8A8);
    free(cells);
    qt_tuned_free(&t);
    /* the runner-up within the margin and more accurate: it is named first */
    o[1].time_s = 2e-3;
    assert_int_equal(qt_tune(o, 3, &opt, &t, NULL), QC_OK);
    assert_int_equal(qt_cells(&t, 0, &cells, &n), QC_OK);
    assert_true(cells[0].tie);
    assert_int_equal(cells[0].scheme, QK_W8A16);
    assert_int_equal(cells[0].scheme2, QK_W8A8);
    free(cells);
    qt_tuned_free(&t);
    /* re-measured against the default: a winner that did not beat it gives way to it */
    qt_obs c[] = {obs(QK_FP16, "threads=2,mr=4", 8, 1.00e-3, 0.005, 2e-4, 1),
                  obs(QK_FP16, "threads=2,mr=2", 8, 0.90e-3, 0.005, 2e-4, 0)};
    qt_verdict v = {.p = c[1].p, .pairs = 10, .ratio = 0.99, .ratio_hi = 1.01, .keep = 0};
    snprintf(v.kernel, sizeof v.kernel, "%s", c[1].kernel);
    snprintf(v.config, sizeof v.config, "%s", c[1].config);
    opt.verdicts = &v;
    opt.n_verdicts = 1;
    assert_int_equal(qt_tune(c, 2, &opt, &t, NULL), QC_OK);
    assert_string_equal(t.v[0].config, "threads=2,mr=4");
    assert_int_equal(t.v[0].verified, -1);
    qt_tuned_free(&t);
    v.keep = 1;
    v.ratio = 0.9;
    v.ratio_hi = 0.92;
    assert_int_equal(qt_tune(c, 2, &opt, &t, NULL), QC_OK);
    assert_string_equal(t.v[0].config, "threads=2,mr=2");
    assert_int_equal(t.v[0].verified, 1);
    qt_tuned_free(&t);
}

/* A close race decides its cell: the two fastest re-measured side by side overturn the sweep's
 * medians (a slow phase tilted them), or make a tie of them, whichever way round they ran. */
/* A race of 10 pairs between o[0] and o[1]: the median and quartiles of o[0]'s time ÷ o[1]'s. */
static qt_race race_of(const qt_obs o[2], double lo, double ratio, double hi)
{
    qt_race r = {.pairs = 10, .ratio_lo = lo, .ratio = ratio, .ratio_hi = hi};
    for (int side = 0; side < 2; side++) {
        qt_side *x = side ? &r.b : &r.a;
        x->p = o[side].p;
        snprintf(x->kernel, sizeof x->kernel, "%s", o[side].kernel);
        snprintf(x->config, sizeof x->config, "%s", o[side].config);
    }
    return r;
}

/* A race's verdict: its notch (± 1.58·IQR/√pairs) against 1, its median against the 3% band. */
static void test_race_verdict(void **state)
{
    (void)state;
    assert_int_equal(qt_race_verdict(1.00, 0.99, 1.01, 12, 0), 0); /* notch ±0.009: inside */
    assert_int_equal(qt_race_verdict(0.80, 0.78, 0.82, 12, 0), -1);
    assert_int_equal(qt_race_verdict(1.20, 1.18, 1.22, 12, 0), +1);
    assert_int_equal(qt_race_verdict(0.96, 0.95, 0.97, 12, 0), -1); /* beyond 1/1.03 = 0.971 */
    assert_int_equal(qt_race_verdict(0.98, 0.97, 0.99, 12, 0), 0);  /* within the band */
    assert_int_equal(qt_race_verdict(0.94, 0.92, 1.30, 12, 0), 0);  /* [0.77, 1.11] holds 1: a tie */
    assert_int_equal(qt_race_verdict(0.94, 0.93, 0.95, 36, 0.07), 0); /* within a 7% margin */
    assert_int_equal(qt_race_verdict(0.94, 0.93, 0.95, 36, 0), -1);
    /* rounds: the median round beyond the margin and none beyond it the other way, else a tie */
    assert_int_equal(qt_rounds_verdict((double[]){0.90, 0.95, 0.93}, 3, 0), -1);
    assert_int_equal(qt_rounds_verdict((double[]){1.10, 1.04, 1.20}, 3, 0), +1);
    assert_int_equal(qt_rounds_verdict((double[]){0.90, 0.98, 0.93}, 3, 0), -1); /* one within 3%: the median */
    assert_int_equal(qt_rounds_verdict((double[]){0.90, 1.02, 0.93}, 3, 0), -1); /* the other way, within 3% */
    assert_int_equal(qt_rounds_verdict((double[]){0.90, 1.05, 0.93}, 3, 0), 0);  /* the other way, beyond */
    assert_int_equal(qt_rounds_verdict((double[]){0.90, 0.98, 0.99}, 3, 0), 0);  /* the median within 3% */
    assert_int_equal(qt_rounds_verdict((double[]){0.90, 0.95, 0.93}, 3, 0.08), 0); /* 0.93 within 8% */
    assert_int_equal(qt_rounds_verdict((double[]){0.96, 0.99}, 2, 0), 0);         /* two: their mean, 0.975 */
}

static void test_races_decide_cells(void **state)
{
    (void)state;
    qt_obs o[] = {obs(QK_W8A8, "threads=2", 4, 1.00e-3, 0.005, 0.04, 1), /* 10% ahead by the medians */
                  obs(QK_W4A16, "threads=2", 4, 1.10e-3, 0.005, 0.09, 1)};
    qt_race r = race_of(o, 0, 0, 0);
    qt_tune_opts opt = {0};
    qt_tuned t;
    qt_cell *cells;
    int n;
    /* without a race: w8a8, alone (10% is beyond the margin and the noise) */
    assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK);
    assert_int_equal(qt_cells(&t, 0, &cells, &n), QC_OK);
    assert_int_equal(cells[0].scheme, QK_W8A8);
    assert_false(cells[0].tie);
    assert_null(cells[0].race);
    free(cells);
    qt_tuned_free(&t);
    /* raced: w8a8 took 1.3x w4a16's time (quartiles 1.25–1.35): w4a16 wins, alone */
    r.ratio_lo = 1.25, r.ratio = 1.3, r.ratio_hi = 1.35;
    opt.races = &r;
    opt.n_races = 1;
    assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK);
    assert_int_equal(qt_cells(&t, 0, &cells, &n), QC_OK);
    assert_int_equal(cells[0].scheme, QK_W4A16);
    assert_int_equal(cells[0].scheme2, QK_W8A8);
    assert_false(cells[0].tie);
    assert_ptr_equal(cells[0].race, &r);
    assert_true(fabs(cells[0].ratio - 1 / 1.3) < 1e-12); /* the winner's time ÷ the other's */
    free(cells);
    qt_tuned_free(&t);
    /* the same race recorded the other way round (w4a16 first): the same verdict */
    qt_side tmp = r.a;
    r.a = r.b, r.b = tmp;
    r.ratio_lo = 1 / 1.35, r.ratio = 1 / 1.3, r.ratio_hi = 1 / 1.25;
    assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK);
    assert_int_equal(qt_cells(&t, 0, &cells, &n), QC_OK);
    assert_int_equal(cells[0].scheme, QK_W4A16);
    assert_false(cells[0].tie);
    free(cells);
    qt_tuned_free(&t);
    /* raced: 0.99 (0.95–1.02): a tie, although the medians said 10%; w8a8 the more accurate first */
    r.ratio_lo = 0.95, r.ratio = 0.99, r.ratio_hi = 1.02;
    assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK);
    assert_int_equal(qt_cells(&t, 0, &cells, &n), QC_OK);
    assert_true(cells[0].tie);
    assert_int_equal(cells[0].scheme, QK_W8A8);
    assert_int_equal(cells[0].scheme2, QK_W4A16);
    /* a margin of 1%: quartiles of 0.95–1.02 still reach 1 ± 1% */
    free(cells);
    assert_int_equal(qt_cells(&t, 0.01, &cells, &n), QC_OK);
    assert_true(cells[0].tie);
    free(cells);
    /* quartiles 1.05–1.08 (w4a16 ÷ w8a8): clear of 1 ± 3%: w8a8 wins */
    r.ratio_lo = 1.05, r.ratio = 1.06, r.ratio_hi = 1.08;
    qt_tuned_free(&t);
    assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK);
    assert_int_equal(qt_cells(&t, 0, &cells, &n), QC_OK);
    assert_false(cells[0].tie);
    assert_int_equal(cells[0].scheme, QK_W8A8);
    assert_int_equal(cells[0].rounds, 1);
    free(cells);
    qt_tuned_free(&t);
    /* three rounds (one recorded the other way round): the winner their median names */
    qt_race rr[3] = {r, r, race_of(o, 1 / 1.09, 1 / 1.07, 1 / 1.06)};
    rr[1].ratio_lo = 1.08, rr[1].ratio = 1.10, rr[1].ratio_hi = 1.11;
    opt.races = rr;
    opt.n_races = 3;
    assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK);
    assert_int_equal(qt_cells(&t, 0, &cells, &n), QC_OK);
    assert_false(cells[0].tie);
    assert_int_equal(cells[0].scheme, QK_W8A8);
    assert_int_equal(cells[0].rounds, 3);
    assert_int_equal(cells[0].pairs, 30);
    assert_true(fabs(cells[0].ratio - 1 / 1.07) < 1e-12); /* the middle round, as w8a8 ÷ w4a16 */
    assert_true(fabs(cells[0].ratio_lo - 1 / 1.11) < 1e-12 && fabs(cells[0].ratio_hi - 1 / 1.05) < 1e-12);
    free(cells);
    qt_tuned_free(&t);
    /* the second round (w4a16 ÷ w8a8) moved: within 3% in another phase, the other two still name
     * w8a8; naming the other scheme beyond the margin, a tie; noisy (its notch alone would hold
     * 1) but on the others' side, w8a8 */
    const double moved[][3] = {{1.00, 1.02, 1.03}, {0.90, 0.91, 0.92}, {0.95, 1.06, 1.25}};
    for (int i = 0; i < 3; i++) {
        rr[1].ratio_lo = moved[i][0], rr[1].ratio = moved[i][1], rr[1].ratio_hi = moved[i][2];
        assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK);
        assert_int_equal(qt_cells(&t, 0, &cells, &n), QC_OK);
        assert_int_equal(cells[0].tie, i == 1);
        assert_int_equal(cells[0].scheme, QK_W8A8);
        free(cells);
        qt_tuned_free(&t);
    }
    assert_int_equal(qt_race_verdict(1.06, 0.95, 1.25, 10, 0), 0);
}

/* Two kernels of one scheme raced side by side: the faster in the race is the scheme's winner,
 * whatever the medians said; a race of other points changes nothing. */
static void test_kernel_race_picks_the_representative(void **state)
{
    (void)state;
    qt_obs o[] = {obs(QK_W8A8, "threads=2", 16, 0.95e-3, 0.01, 0.04, 1), obs(QK_W8A8, "threads=2", 16, 1.00e-3, 0.01, 0.04, 1)};
    snprintf(o[0].kernel, sizeof o[0].kernel, "w8a8.avx512vnni");
    snprintf(o[1].kernel, sizeof o[1].kernel, "w8a8.onednn");
    qt_race r = race_of(o, 1.02, 1.04, 1.06); /* vnni ÷ oneDNN */
    qt_tune_opts opt = {0};
    qt_tuned t;
    assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK); /* the medians: vnni, 5% ahead */
    assert_int_equal(t.n, 1);
    assert_string_equal(t.v[0].kernel, "w8a8.avx512vnni");
    qt_tuned_free(&t);
    opt.races = &r;
    opt.n_races = 1;
    assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK); /* the race: oneDNN */
    assert_string_equal(t.v[0].kernel, "w8a8.onednn");
    assert_true(t.v[0].time_s == 1.00e-3);
    qt_tuned_free(&t);
    qt_side tmp = r.a; /* recorded the other way round: the same */
    r.a = r.b, r.b = tmp;
    r.ratio_lo = 1 / 1.06, r.ratio = 1 / 1.04, r.ratio_hi = 1 / 1.02;
    assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK);
    assert_string_equal(t.v[0].kernel, "w8a8.onednn");
    qt_tuned_free(&t);
    r.a.p.m = 64; /* a race at another M: not this one */
    assert_int_equal(qt_tune(o, 2, &opt, &t, NULL), QC_OK);
    assert_string_equal(t.v[0].kernel, "w8a8.avx512vnni");
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
    qt_scheme_model models[QK_SCHEME_COUNT] = {{0}};
    qt_emit_info info = {.device = "a*/\n#error injected\n/*", .source_hash = "0123456789abcdef", .models = models,
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
        cmocka_unit_test(test_orders_agree),
        cmocka_unit_test(test_crossover_matches_brute_force),
        cmocka_unit_test(test_tune_winners_ties_and_limits),
        cmocka_unit_test(test_pruning_report),
        cmocka_unit_test(test_roof_is_the_kernels_format),
        cmocka_unit_test(test_keys_and_cells),
        cmocka_unit_test(test_scheme_ties), cmocka_unit_test(test_race_verdict),
        cmocka_unit_test(test_races_decide_cells),
        cmocka_unit_test(test_kernel_race_picks_the_representative),
        cmocka_unit_test(test_header_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
