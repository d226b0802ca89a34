/* bench/sweep and bench/results: axis parsing, the run set, results files written and read
 * back identically, and truncated, corrupt or foreign files rejected with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/results.h"
#include "bench/sweep.h"
#include "tests/testutil.h"

static void expect_ints(const char *text, const int *want, int n)
{
    int v[QB_MAX_AXIS], got;
    qc_msgs err = {0};
    assert_int_equal(qb_parse_ints("--batch", text, 1, 1 << 20, v, &got, &err), QC_OK);
    assert_int_equal(got, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(v[i], want[i]);
}

static void expect_bad(const char *text, const char *msg)
{
    int v[QB_MAX_AXIS], got;
    qc_msgs err = {0};
    assert_int_equal(qb_parse_ints("--batch", text, 1, 4096, v, &got, &err), QC_EINPUT);
    if (!strstr(err.v[0], msg))
        print_error("%s → %s\n", text, err.v[0]);
    assert_non_null(strstr(err.v[0], msg));
    qc_msgs_free(&err);
}

static void test_axis_parsing(void **state)
{
    (void)state;
    expect_ints("1,2,4", (int[]){1, 2, 4}, 3);
    expect_ints("1:64", (int[]){1, 2, 4, 8, 16, 32, 64}, 7);
    expect_ints("1:256:*4", (int[]){1, 4, 16, 64, 256}, 5);
    expect_ints("128:512:128", (int[]){128, 256, 384, 512}, 4);
    expect_ints("1,1:4,4", (int[]){1, 2, 4}, 3); /* duplicates once */
    expect_ints("3:20", (int[]){3, 6, 12}, 3);
    expect_bad("0", "must stay within 1..4096");
    expect_bad("1,x", "'x' is not a number, a list");
    expect_bad("8:2", "go upwards");
    expect_bad("1:8:*1", "step by at least *2");
    expect_bad("1:8:0", "step by at least 1");
    expect_bad("1:100000", "must stay within 1..4096");
    expect_bad("", "no values given");
    qb_axes a;
    qb_axes_quick(&a);
    qc_msgs err = {0};
    assert_int_equal(qb_parse_schemes("w4a16,fp16,w4a16", &a, &err), QC_OK);
    assert_int_equal(a.n_scheme, 2);
    assert_int_equal(qb_parse_schemes("int3", &a, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[0], "unknown scheme 'int3'"));
    assert_int_equal(qb_parse_shapes("llama-3-8b", &a, &err), QC_OK);
    assert_int_equal(a.n_shape, 4); /* q and o are both 4096x4096: once; kv, gate_up, down */
    assert_int_equal(qb_parse_shapes("llama-3-8b-fused,4096x4096", &a, &err), QC_OK);
    assert_int_equal(a.n_shape, 4); /* qkv 6144x4096, o, gate_up 28672x4096, down */
    assert_int_equal(a.shape[0].n, 6144);
    assert_int_equal(a.shape[2].n, 28672);
    assert_int_equal(qb_parse_shapes("gpt-5", &a, &err), QC_EINPUT);
    assert_int_equal(qb_parse_shapes("0x64", &a, &err), QC_EINPUT);
    assert_int_equal(qb_parse_configs("some", &a, &err), QC_EINPUT);
    qc_msgs_free(&err);
}

static void test_plan(void **state)
{
    (void)state;
    qb_axes a;
    qb_axes_quick(&a);
    qc_msgs err = {0};
    int batch[] = {1, 2, 4}, seq[] = {1, 2};
    memcpy(a.batch, batch, sizeof batch);
    a.n_batch = 3;
    memcpy(a.seq, seq, sizeof seq);
    a.n_seq = 2; /* M = 1, 2, 4, 8 (2·1 and 1·2 once) */
    a.n_group = 2;
    a.group[1] = -1;
    qb_parse_schemes("fp16,w4a16", &a, &err);
    qb_parse_shapes("256x512", &a, &err);
    qb_task *t;
    int n;
    assert_int_equal(qb_plan(&a, 0, &t, &n, &err), QC_OK);
    /* fp16: 4 M values; w4a16: 2 groups × 4 M values */
    assert_int_equal(n, 4 + 8);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            assert_string_not_equal(t[i].point.name, t[j].point.name);
    free(t);
    /* groups that do not divide K are not applicable, not errors */
    a.group[0] = 96;
    qb_parse_shapes("256x512", &a, &err);
    assert_int_equal(qb_plan(&a, 0, &t, &n, &err), QC_OK);
    assert_int_equal(n, 4 + 4);
    free(t);
    qb_parse_configs("pruned", &a, &err);
    assert_int_equal(qb_plan(&a, 0, &t, &n, &err), QC_OK);
    assert_true(n > 8);
    free(t);
    qc_msgs_free(&err);
}

static qb_point sample_point(int m, int status)
{
    qb_point p;
    memset(&p, 0, sizeof p);
    p.p = (qk_problem){.scheme = QK_W4A16, .m = m, .n = 4096, .k = 14336, .group = 128};
    snprintf(p.kernel, sizeof p.kernel, "w4a16.avx2");
    snprintf(p.config, sizeof p.config, "threads=2,mr=1");
    p.smooth = -1;
    p.warm = m == 2;
    qb_point_name(&p);
    p.status = status;
    qk_cost c = qk_problem_cost(&p.p);
    p.bytes = c.bytes;
    p.flops = c.flops;
    p.intensity = c.flops / c.bytes;
    p.kernel_error = 2.1e-4;
    p.quant_error = 0.147;
    if (status == QB_FAILED) {
        snprintf(p.error, sizeof p.error, "wrong result: kernel error 0.5 exceeds 1e-03; not timed");
    } else {
        p.median_s = 1.234e-3 * m;
        p.min_s = 1.2e-3 * m;
        p.cv = 0.021;
        p.repetitions = 5;
        p.gbs = c.bytes / p.median_s / 1e9;
        p.gflops = c.flops / p.median_s / 1e9;
        snprintf(p.bound, sizeof p.bound, "memory");
        p.ceiling_gbs = 37.1;
        p.ceiling_gops = 235.3;
        p.attainable_gflops = 100;
        p.pct_of_ceiling = 91.2;
        snprintf(p.cache_mode, sizeof p.cache_mode, m == 2 ? "warm" : "cold");
        p.copies = m == 2 ? 1 : 9;
        p.rounds = m;
        p.noisy = m == 4;
        p.phase_waited_s = 0.25 * (m - 1); /* the machine's phase around the timing */
        p.phase_redone = m - 1;
        p.phase_unusual = m == 4;
        if (m != 2) /* the sentinel's read after the timing (none: a point timed before reads were kept) */
            p.phase_read = (qh_phase_read){230.5, 232 + m, 31.25, 30 - m};
        snprintf(p.format, sizeof p.format, "bf16_dot");
        p.checked_rows = m < 8 ? m : 8;
        p.checked_cols = 256;
        p.iterations = 10;
        qb_point_add_counter(&p, "perf::TASK-CLOCK", "papi", 2.4e6, NULL);
        qb_point_add_counter(&p, "PAPI_TOT_CYC", "papi", 0, "cannot count on this machine");
        /* Google Benchmark's entries: two repetitions and a median aggregate */
        p.entries = json_pack("[{s:s, s:s, s:i, s:f, s:s}, {s:s, s:s, s:i, s:f, s:s}, {s:s, s:s, s:s, s:f, s:s}]",
                              "name", "x/real_time", "run_type", "iteration", "iterations", 10, "real_time", 1.2e6,
                              "time_unit", "ns", "name", "x/real_time", "run_type", "iteration", "iterations", 10,
                              "real_time", 1.3e6, "time_unit", "ns", "name", "x/real_time_median", "run_type",
                              "aggregate", "aggregate_name", "median", "real_time", 1.25e6, "time_unit", "ns");
    }
    return p;
}

static void test_results_round_trip(void **state)
{
    (void)state;
    qb_results r;
    qb_results_init(&r, json_pack("{s:s, s:{s:s, s:s}}", "host_name", "vm", "qbench", "version", "0.1.0", "profile",
                                  "host"));
    for (int m = 1; m <= 4; m++) {
        qb_point p = sample_point(m, m == 3 ? QB_FAILED : QB_OK);
        qb_results_add(&r, &p);
    }
    /* two re-measurements: a configuration against its default, and a close race */
    qb_verification vc = {.pairs = 10, .ratio_lo = 0.9, .ratio = 0.95, .ratio_hi = 0.97, .keep = 1},
                    vr = {.race = 1, .pairs = 10, .ratio_lo = 0.97, .ratio = 1.01, .ratio_hi = 1.04};
    snprintf(vc.winner, sizeof vc.winner, "%s", r.v[0].name);
    snprintf(vc.baseline, sizeof vc.baseline, "%s", r.v[1].name);
    snprintf(vr.winner, sizeof vr.winner, "%s", r.v[0].name);
    snprintf(vr.baseline, sizeof vr.baseline, "%s", r.v[3].name);
    qb_results_add_verification(&r, &vc);
    qb_results_add_verification(&r, &vr);
    /* the configuration re-measured replaces its first measurement; a race's second round is
     * one more entry */
    qb_verification vr2 = vr;
    vc.ratio = 0.96, vr2.ratio = 1.02;
    qb_results_add_verification(&r, &vc);
    qb_results_add_verification(&r, &vr2);
    assert_int_equal(r.n_ver, 3);
    assert_true(r.ver[0].ratio == 0.96 && r.ver[1].ratio == 1.01 && r.ver[2].ratio == 1.02);
    char *path = tu_write_temp("", 0, ".json");
    qc_msgs err = {0};
    assert_int_equal(qb_results_write(&r, path, &err), QC_OK);
    qb_results back;
    assert_int_equal(qb_results_read(path, &back, &err), QC_OK);
    assert_int_equal(back.n, 4);
    assert_int_equal(back.n_ver, 3); /* one winner, two baselines, and a race's two rounds */
    assert_memory_equal(&back.ver[0], &vc, sizeof vc);
    assert_memory_equal(&back.ver[1], &vr, sizeof vr);
    assert_memory_equal(&back.ver[2], &vr2, sizeof vr2);
    for (int i = 0; i < 4; i++) {
        const qb_point *a = &r.v[i], *b = &back.v[i];
        assert_string_equal(a->name, b->name);
        assert_memory_equal(&a->p, &b->p, sizeof a->p);
        assert_int_equal(a->status, b->status);
        assert_string_equal(a->error, b->error);
        assert_true(a->median_s == b->median_s && a->min_s == b->min_s && a->cv == b->cv);
        assert_true(a->gbs == b->gbs && a->gflops == b->gflops && a->pct_of_ceiling == b->pct_of_ceiling);
        assert_true(a->kernel_error == b->kernel_error && a->quant_error == b->quant_error);
        assert_string_equal(a->format, b->format);
        assert_int_equal(a->checked_rows, b->checked_rows);
        assert_int_equal(a->checked_cols, b->checked_cols);
        assert_string_equal(a->cache_mode, b->cache_mode);
        assert_int_equal(a->warm, b->warm);
        assert_int_equal(a->copies, b->copies);
        assert_int_equal(a->rounds, b->rounds);
        assert_int_equal(a->noisy, b->noisy);
        assert_true(a->phase_waited_s == b->phase_waited_s);
        assert_int_equal(a->phase_redone, b->phase_redone);
        assert_int_equal(a->phase_unusual, b->phase_unusual);
        assert_true(a->phase_read.gops == b->phase_read.gops && a->phase_read.usual_gops == b->phase_read.usual_gops);
        assert_true(a->phase_read.gbs == b->phase_read.gbs && a->phase_read.usual_gbs == b->phase_read.usual_gbs);
        assert_true(b->smooth < 0);
        assert_int_equal(a->n_counters, b->n_counters);
        for (int c = 0; c < a->n_counters; c++) {
            assert_string_equal(a->counters[c].name, b->counters[c].name);
            assert_int_equal(a->counters[c].available, b->counters[c].available);
            assert_true(a->counters[c].value == b->counters[c].value);
            assert_string_equal(a->counters[c].reason, b->counters[c].reason);
        }
        assert_int_equal(json_array_size(b->entries), a->status == QB_OK ? 3 : 0);
    }
    /* written again: the same bytes */
    char *path2 = tu_write_temp("", 0, ".json");
    assert_int_equal(qb_results_write(&back, path2, &err), QC_OK);
    char *t1 = tu_slurp(path), *t2 = tu_slurp(path2);
    assert_string_equal(t1, t2);
    assert_non_null(qb_results_find(&back, r.v[1].name));
    assert_non_null(strstr(r.v[1].name, "/warm/")); /* warm weights are another point than cold ones */
    assert_null(strstr(r.v[0].name, "warm"));
    qb_results_free(&back);

    /* truncated: named, with where and why */
    FILE *f = fopen(path2, "w");
    fwrite(t1, 1, strlen(t1) / 2, f);
    fclose(f);
    assert_int_equal(qb_results_read(path2, &back, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[err.n - 1], path2));
    assert_non_null(strstr(err.v[err.n - 1], "not valid JSON"));
    /* corrupt: a field of the wrong type */
    f = fopen(path2, "w");
    fputs(t1, f);
    fclose(f);
    json_t *doc = json_load_file(path2, 0, NULL);
    json_object_set_new(json_array_get(json_object_get(doc, "benchmarks"), 3), "m", json_string("two"));
    json_dump_file(doc, path2, 0);
    json_decref(doc);
    assert_int_equal(qb_results_read(path2, &back, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[err.n - 1], "benchmarks[3]"));
    assert_non_null(strstr(err.v[err.n - 1], "'m' is out of range or not an integer"));
    /* a phase with a negative wait */
    doc = json_loads(t1, 0, NULL);
    json_object_set_new(json_object_get(json_array_get(json_object_get(doc, "benchmarks"), 0), "phase"), "waited_s",
                        json_real(-1));
    json_dump_file(doc, path2, 0);
    json_decref(doc);
    assert_int_equal(qb_results_read(path2, &back, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[err.n - 1], "benchmarks[0]"));
    assert_non_null(strstr(err.v[err.n - 1], "'phase' must be"));
    /* a sentinel's read without its DRAM rate */
    doc = json_loads(t1, 0, NULL);
    json_t *read = json_object_get(json_object_get(json_array_get(json_object_get(doc, "benchmarks"), 0), "phase"), "read");
    assert_non_null(read);
    json_object_del(read, "dram_gbs");
    json_dump_file(doc, path2, 0);
    json_decref(doc);
    assert_int_equal(qb_results_read(path2, &back, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[err.n - 1], "benchmarks[0]"));
    assert_non_null(strstr(err.v[err.n - 1], "'phase.read' must be"));
    /* a verification of an unknown kind */
    doc = json_loads(t1, 0, NULL);
    json_object_set_new(json_array_get(json_object_get(doc, "verification"), 1), "kind", json_string("duel"));
    json_dump_file(doc, path2, 0);
    json_decref(doc);
    assert_int_equal(qb_results_read(path2, &back, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[err.n - 1], "kind (config or race)"));
    /* a plain Google Benchmark file, an empty file, a missing one */
    f = fopen(path2, "w");
    fputs("{\"context\": {\"host_name\": \"x\"}, \"benchmarks\": []}", f);
    fclose(f);
    assert_int_equal(qb_results_read(path2, &back, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[err.n - 1], "not a qbench results file"));
    f = fopen(path2, "w");
    fclose(f);
    assert_int_equal(qb_results_read(path2, &back, &err), QC_EINPUT);
    assert_int_equal(qb_results_read("/nonexistent/r.json", &back, &err), QC_EINPUT);
    assert_non_null(strstr(err.v[err.n - 1], "/nonexistent/r.json"));
    free(t1);
    free(t2);
    unlink(path);
    unlink(path2);
    free(path);
    free(path2);
    qb_results_free(&r);
    qc_msgs_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_axis_parsing), cmocka_unit_test(test_plan),
                                       cmocka_unit_test(test_results_round_trip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
