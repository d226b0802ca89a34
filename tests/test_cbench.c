/* bench/cbench: the C wrapper over Google Benchmark measures a callback of known duration,
 * reports manual time as given, and hands back Google Benchmark's own JSON for the run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "bench/cbench.h"

static double spin_2ms(void *ctx)
{
    int *calls = ctx;
    double t0 = qc_now();
    while (qc_now() - t0 < 2e-3)
        ;
    (*calls)++;
    return -1;
}

static void test_known_duration(void **state)
{
    (void)state;
    int calls = 0;
    cbench_options o = {.min_time = 0.05, .repetitions = 5};
    cbench_result r;
    qc_msgs err = {0};
    assert_int_equal(cbench_run("spin/2ms", spin_2ms, &calls, &o, &r, &err), QC_OK);
    print_message("median %.4f ms, min %.4f ms, cv %.2f%%, %lld iterations x %d repetitions\n", r.median_s * 1e3,
                  r.min_s * 1e3, 100 * r.cv, (long long)r.iterations, r.repetitions);
    assert_true(r.min_s >= 2e-3 && r.min_s < 2.04e-3);       /* the fastest repetition: within 2% of 2 ms */
    assert_true(r.median_s >= r.min_s && r.median_s < 2.2e-3); /* the median: within 10% */
    assert_int_equal(r.repetitions, 5);
    assert_true(calls >= r.iterations * 5);
    /* Google Benchmark's JSON: its context and one entry per repetition plus the aggregates */
    json_error_t je;
    json_t *j = json_loads(r.json, 0, &je);
    assert_non_null(j);
    assert_true(json_is_object(json_object_get(j, "context")));
    json_t *b = json_object_get(j, "benchmarks");
    int reps = 0, median = 0, cv = 0, min = 0;
    for (size_t i = 0; i < json_array_size(b); i++) {
        json_t *e = json_array_get(b, i);
        const char *type = json_string_value(json_object_get(e, "run_type"));
        const char *agg = json_string_value(json_object_get(e, "aggregate_name"));
        assert_non_null(strstr(json_string_value(json_object_get(e, "name")), "spin/2ms"));
        reps += !strcmp(type, "iteration");
        median += agg && !strcmp(agg, "median");
        cv += agg && !strcmp(agg, "cv");
        min += agg && !strcmp(agg, "min");
    }
    assert_int_equal(reps, 5);
    assert_int_equal(median + cv + min, 3);
    json_decref(j);
    cbench_result_free(&r);
}

static double manual_5ms(void *ctx)
{
    (void)ctx;
    return 5e-3; /* as a GPU timer would report it */
}

static void test_manual_time(void **state)
{
    (void)state;
    cbench_options o = {.min_time = 0.05, .repetitions = 3, .manual_time = 1};
    cbench_result r;
    assert_int_equal(cbench_run("manual/5ms", manual_5ms, NULL, &o, &r, NULL), QC_OK);
    assert_true(r.median_s > 4.999e-3 && r.median_s < 5.001e-3);
    assert_true(r.cv < 1e-6);
    assert_true(r.iterations >= 10); /* 0.05 s of 5 ms iterations */
    cbench_result_free(&r);
}

/* 1 ms per call, but one call in 4 takes 40 ms: repetitions of a few calls disagree widely */
static double manual_heavy_tail(void *ctx)
{
    uint64_t *s = ctx;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (*s >> 62) == 0 ? 40e-3 : 1e-3;
}

static void test_noise_rounds(void **state)
{
    (void)state;
    /* steady: one round stands */
    cbench_options o = {.min_time = 0.01, .repetitions = 5, .manual_time = 1, .max_cv = 0.03, .budget_s = 2};
    cbench_result r;
    assert_int_equal(cbench_run("steady", manual_5ms, NULL, &o, &r, NULL), QC_OK);
    assert_int_equal(r.rounds, 1);
    assert_int_equal(r.repetitions_all, 5);
    assert_false(r.noisy);
    cbench_result_free(&r);
    /* noisy: rounds until the budget, the best round stands, and the point is marked */
    uint64_t seed = 7;
    o.budget_s = 0.3;
    double t0 = qc_now();
    assert_int_equal(cbench_run("noisy", manual_heavy_tail, &seed, &o, &r, NULL), QC_OK);
    double spent = qc_now() - t0;
    print_message("noisy: %d rounds (%d repetitions) in %.3f s, the best cv %.1f%%\n", r.rounds, r.repetitions_all,
                  spent, 100 * r.cv);
    assert_true(r.rounds >= 2 && r.rounds <= CBENCH_MAX_ROUNDS);
    assert_int_equal(r.repetitions_all, 5 * r.rounds);
    assert_int_equal(r.repetitions, 5);
    assert_true(r.noisy);
    assert_true(r.cv > 0.03);
    assert_true(spent < 0.3 + 0.3); /* a round may only start when it should fit */
    cbench_result_free(&r);
    /* no budget given: as many rounds' time as CBENCH_DEFAULT_ROUNDS first rounds take, however long
     * a call is (a fixed default in seconds gave a point of slow calls one round) */
    o.budget_s = 0;
    assert_int_equal(cbench_run("noisy-default", manual_heavy_tail, &seed, &o, &r, NULL), QC_OK);
    print_message("noisy, default budget: %d rounds\n", r.rounds);
    assert_true(r.rounds >= 3);
    assert_true(r.noisy);
    cbench_result_free(&r);
    /* max_cv 0: one round, whatever the noise */
    o.max_cv = 0;
    assert_int_equal(cbench_run("noisy-once", manual_heavy_tail, &seed, &o, &r, NULL), QC_OK);
    assert_int_equal(r.rounds, 1);
    assert_false(r.noisy);
    cbench_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_known_duration), cmocka_unit_test(test_manual_time),
                                       cmocka_unit_test(test_noise_rounds)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
