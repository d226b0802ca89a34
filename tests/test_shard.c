/* Sweeps beyond one process: shards (--shard I/N|auto) balanced by predicted cost, merged by
 * `qbench merge` into the unsharded run's point set; merge's refusals and its rules for points
 * measured twice; one worker per GPU (--device cuda:all) on a fake device list. The real
 * launchers (mpirun, a local Slurm cluster) are tests/cluster/. */
#include <jansson.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

static const char *qbench;
static char tmp[64];

static int run(char **out, char **err, const char *const *args)
{
    int rc = tu_run(qbench, args, out, err);
    if (rc)
        print_message("qbench %s: rc %d\n%s", args[0], rc, *err);
    return rc;
}

static void expect_fail(const char *const *args, int want_rc, const char *want)
{
    char *out, *err;
    int rc = tu_run(qbench, args, &out, &err);
    if (rc != want_rc || !strstr(err, want))
        print_error("rc=%d stderr=%s\n", rc, err);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(err, want));
    free(out);
    free(err);
}

/* the point names of a results file, as the keys of an object */
static json_t *points_of(const char *path)
{
    json_t *doc = json_load_file(path, 0, NULL), *set = json_object(), *e;
    assert_non_null(doc);
    size_t i;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, e)
        json_object_set_new(set, json_string_value(json_object_get(e, "point")), json_true());
    json_decref(doc);
    return set;
}

/* the predicted cost per shard, from the plan's printout */
static int costs_of(const char *err, double *c, int max)
{
    const char *at = strstr(err, "predicted seconds per shard");
    assert_non_null(at);
    at = strchr(at, '\n');
    int n = 0;
    char *end;
    while (at && n < max) {
        while (*at == ' ' || *at == ',' || *at == '\n')
            at++;
        double v = strtod(at, &end);
        if (end == at)
            break;
        c[n++] = v;
        at = end;
    }
    return n;
}

#define PREDICT_GRID "--device", "h100", "--predict", "--quick"

/* every point in exactly one shard, the same plan in each, the costs within 20% */
static void test_shards_partition_the_run_set(void **state)
{
    (void)state;
    char *out, *err;
    const char *whole[] = {"sweep", PREDICT_GRID, "-o", tu_path("%s/whole", tmp), NULL};
    assert_int_equal(run(&out, &err, whole), 0);
    free(out), free(err);
    json_t *all = points_of(tu_path("%s/whole/results.json", tmp)), *seen = json_object();
    char plan[17] = "";
    for (int i = 0; i < 3; i++) {
        char shard[8];
        snprintf(shard, sizeof shard, "%d/3", i);
        const char *args[] = {"sweep", PREDICT_GRID, "--shard", shard, "-o", tu_path("%s/three", tmp), NULL};
        assert_int_equal(run(&out, &err, args), 0);
        double c[3];
        assert_int_equal(costs_of(err, c, 3), 3);
        double lo = c[0], hi = c[0];
        for (int s = 1; s < 3; s++)
            lo = c[s] < lo ? c[s] : lo, hi = c[s] > hi ? c[s] : hi;
        print_message("shard %d of 3: predicted %.1f, %.1f, %.1f s\n", i, c[0], c[1], c[2]);
        assert_true(hi <= 1.2 * lo); /* balanced by predicted cost */
        const char *h = strstr(err, "; plan ");
        assert_non_null(h);
        if (!plan[0])
            snprintf(plan, sizeof plan, "%.16s", h + 7);
        assert_memory_equal(plan, h + 7, 16); /* every shard computes the same plan */
        assert_non_null(strstr(out, "qbench merge"));
        assert_null(strstr(out, "dispatch table")); /* no fit or tables from a part */
        free(out), free(err);
        json_t *part = points_of(tu_path("%s/three/shard-%d-of-3/results.json", tmp, i)), *v;
        const char *name;
        assert_true(json_object_size(part) > 0);
        json_object_foreach(part, name, v)
        {
            assert_null(json_object_get(seen, name)); /* in one shard only */
            json_object_set(seen, name, json_true());
        }
        json_decref(part);
    }
    assert_true(json_equal(seen, all));
    /* merged: the unsharded point set, and the tables come out of it */
    const char *merge[] = {"merge", tu_path("%s/three/shard-0-of-3/results.json", tmp),
                           tu_path("%s/three/shard-1-of-3/results.json", tmp),
                           tu_path("%s/three/shard-2-of-3/results.json", tmp), "-o",
                           tu_path("%s/three/results.json", tmp), NULL};
    assert_int_equal(run(&out, &err, merge), 0);
    free(out), free(err);
    json_t *merged = points_of(tu_path("%s/three/results.json", tmp));
    assert_true(json_equal(merged, all));
    const char *emit[] = {"emit", tu_path("%s/three/results.json", tmp), "--format", "header", "-o",
                          tu_path("%s/three/d.h", tmp), NULL};
    assert_int_equal(run(&out, &err, emit), 0);
    free(out), free(err);
    /* one missing: refused, unless forced */
    const char *two[] = {"merge", tu_path("%s/three/shard-0-of-3/results.json", tmp),
                         tu_path("%s/three/shard-2-of-3/results.json", tmp), "-o", tu_path("%s/two.json", tmp), NULL};
    expect_fail(two, 2, "has 3 shards and 1 of them is missing (1)");
    const char *forced[] = {"merge", "--force", tu_path("%s/three/shard-0-of-3/results.json", tmp),
                            tu_path("%s/three/shard-2-of-3/results.json", tmp), "-o", tu_path("%s/two.json", tmp),
                            NULL};
    assert_int_equal(run(&out, &err, forced), 0);
    assert_non_null(strstr(err, "merged anyway (--force)"));
    free(out), free(err);
    /* a shard resumed as another one: refused */
    const char *resume[] = {"sweep", PREDICT_GRID, "--shard", "1/3", "--resume",
                            tu_path("%s/three/shard-0-of-3/results.json", tmp), NULL};
    expect_fail(resume, 2, "these results are shard 0 of 3 of plan");
    json_decref(merged);
    json_decref(seen);
    json_decref(all);
}

static void test_shard_arguments(void **state)
{
    (void)state;
    expect_fail((const char *[]){"sweep", "--shard", "2/2", NULL}, 2, "--shard's I (0 ≤ I < N)");
    expect_fail((const char *[]){"sweep", "--shard", "1", NULL}, 2, "--shard '1': give I/N");
    static const char *const vars[] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT",
                                       "SLURM_ARRAY_TASK_STEP", "SLURM_PROCID", "SLURM_NTASKS",
                                       "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    expect_fail((const char *[]){"sweep", "--shard", "auto", NULL}, 2,
                "none of SLURM_ARRAY_TASK_ID (with SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT), SLURM_PROCID (with "
                "SLURM_NTASKS), OMPI_COMM_WORLD_RANK (with OMPI_COMM_WORLD_SIZE) or PMI_RANK (with PMI_SIZE) is set");
    /* the order: a Slurm array before the ranks of its step, PMI last */
    char *out, *err;
    const char *args[] = {"sweep", "--device", "h100", "--predict", "--schemes", "fp16", "--shapes", "4096x4096",
                          "--batch", "1,2,4,8", "--shard", "auto", "-o", tu_path("%s/auto", tmp), NULL};
    setenv("PMI_RANK", "0", 1);
    setenv("PMI_SIZE", "3", 1);
    assert_int_equal(run(&out, &err, args), 0);
    assert_non_null(strstr(err, "shard 0 of 3 (PMI_RANK=0 of PMI_SIZE=3)"));
    free(out), free(err);
    setenv("SLURM_PROCID", "1", 1);
    setenv("SLURM_NTASKS", "2", 1);
    assert_int_equal(run(&out, &err, args), 0);
    assert_non_null(strstr(err, "shard 1 of 2 (SLURM_PROCID=1 of SLURM_NTASKS=2)"));
    free(out), free(err);
    setenv("SLURM_ARRAY_TASK_ID", "12", 1);
    setenv("SLURM_ARRAY_TASK_MIN", "10", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
    assert_int_equal(run(&out, &err, args), 0);
    assert_non_null(strstr(err, "shard 2 of 4 (SLURM_ARRAY_TASK_ID=12 of 4 from 10)"));
    free(out), free(err);
    setenv("SLURM_ARRAY_TASK_ID", "15", 1);
    expect_fail(args, 2, "SLURM_ARRAY_TASK_ID=15 is not one of the 4 tasks");
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

/* merge: one device only; an exact duplicate dropped; a point measured twice keeps the lower cv
 * and is reported when the two disagree beyond their noise */
static void test_merge_rules(void **state)
{
    (void)state;
    char *out, *err;
    const char *grid[] = {"sweep", "--device", "a100", "--predict", "--schemes", "fp16,w4a16", "--shapes",
                          "4096x4096", "--batch", "1,16", "-o", tu_path("%s/a100", tmp), NULL};
    assert_int_equal(run(&out, &err, grid), 0);
    free(out), free(err);
    const char *golden = "tests/golden/results.json", *h100 = "tests/golden/h100-predicted.json";
    const char *a100 = tu_path("%s/a100/results.json", tmp);
    expect_fail((const char *[]){"merge", h100, a100, "-o", tu_path("%s/x.json", tmp), NULL}, 2,
                "differ in device_name: h100-sxm5-80gb and a100-sxm4-80gb");
    expect_fail((const char *[]){"merge", golden, h100, "-o", tu_path("%s/x.json", tmp), NULL}, 2, "differ in");
    /* the same file twice: every point an exact duplicate */
    assert_int_equal(run(&out, &err, (const char *[]){"merge", golden, golden, "-o", tu_path("%s/dup.json", tmp),
                                                      NULL}),
                     0);
    json_t *g = points_of(golden), *d = points_of(tu_path("%s/dup.json", tmp));
    assert_true(json_equal(g, d));
    char want[96];
    snprintf(want, sizeof want, "%zu exact duplicates dropped", json_object_size(g));
    assert_non_null(strstr(out, want));
    free(out), free(err);
    json_decref(d);
    /* one point measured again, ten times as slow with a tighter cv: kept, and reported (apart beyond
     * the noise even when a loaded machine, or the sanitizers, left the first measurement a cv of 50%) */
    const char *meas[] = {"sweep", "--schemes", "fp16", "--shapes", "256x512", "--batch", "1,2", "--min-time", "0.005",
                          "--repetitions", "3", "-o", tu_path("%s/meas", tmp), NULL};
    assert_int_equal(run(&out, &err, meas), 0);
    free(out), free(err);
    const char *measured = tu_path("%s/meas/results.json", tmp);
    json_t *doc = json_load_file(measured, 0, NULL), *e;
    size_t i;
    const char *point = NULL;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, e)
    {
        if (!(json_real_value(json_object_get(e, "time_cv")) > 1e-3))
            continue;
        if (!point)
            point = json_string_value(json_object_get(e, "point"));
        if (strcmp(point, json_string_value(json_object_get(e, "point"))))
            continue;
        json_object_set_new(e, "time_median_s", json_real(10 * json_real_value(json_object_get(e, "time_median_s"))));
        json_object_set_new(e, "time_cv", json_real(0.0001));
        json_object_set_new(e, "real_time", json_real(10 * json_number_value(json_object_get(e, "real_time"))));
    }
    assert_non_null(point);
    char *again = tu_path("%s/again.json", tmp);
    assert_int_equal(json_dump_file(doc, again, JSON_INDENT(1)), 0);
    assert_int_equal(run(&out, &err, (const char *[]){"merge", measured, again, "-o", tu_path("%s/m.json", tmp), NULL}),
                     0);
    assert_non_null(strstr(out, "1 measured twice"));
    assert_non_null(strstr(err, "apart beyond their noise; kept"));
    assert_non_null(strstr(err, point));
    free(out), free(err);
    json_t *m = json_load_file(tu_path("%s/m.json", tmp), 0, NULL);
    int kept = 0;
    json_array_foreach(json_object_get(m, "benchmarks"), i, e) if (!strcmp(json_string_value(json_object_get(e, "point")),
                                                                           point)) kept +=
        json_real_value(json_object_get(e, "time_cv")) == 0.0001;
    assert_true(kept >= 1); /* the lower cv stands */
    json_decref(m);
    json_decref(doc);
    json_decref(g);
}

/* --device cuda:all: one worker per (fake) GPU, each pinned, merged at the end */
static void test_one_worker_per_gpu(void **state)
{
    (void)state;
    char *out, *err;
    setenv("QBENCH_FAKE_CUDA_DEVICES", "NVIDIA H100 80GB HBM3@9.0;NVIDIA H100 80GB HBM3@9.0;NVIDIA H100 80GB HBM3@9.0", 1);
    setenv("CUDA_VISIBLE_DEVICES", "2,0", 1); /* two of the three: the workers get "2" and "0" */
    const char *gpus[] = {"sweep", "--device", "cuda:all", "--predict", "--schemes", "fp16,w4a16,w8a8", "--shapes",
                          "4096x4096,4096x14336", "--batch", "1,16,256", "-o", tu_path("%s/gpus", tmp), NULL};
    assert_int_equal(run(&out, &err, gpus), 0);
    assert_non_null(strstr(err, "2 x NVIDIA H100 80GB HBM3: one worker per GPU"));
    assert_non_null(strstr(err, "worker 0: CUDA_VISIBLE_DEVICES=2"));
    assert_non_null(strstr(err, "worker 1: CUDA_VISIBLE_DEVICES=0"));
    assert_non_null(strstr(out, "2 shards merged"));
    assert_non_null(strstr(out, "dispatch table (header"));
    free(out), free(err);
    char *log = tu_slurp(tu_path("%s/gpus/shard-1-of-2.log", tmp));
    assert_non_null(log);
    assert_non_null(strstr(log, "GPU worker 1 of 2, CUDA_VISIBLE_DEVICES=0"));
    free(log);
    const char *one[] = {"sweep", "--device", "cuda:0", "--predict", "--schemes", "fp16,w4a16,w8a8", "--shapes",
                         "4096x4096,4096x14336", "--batch", "1,16,256", "-o", tu_path("%s/gpu0", tmp), NULL};
    assert_int_equal(run(&out, &err, one), 0);
    free(out), free(err);
    json_t *a = points_of(tu_path("%s/gpus/results.json", tmp)), *b = points_of(tu_path("%s/gpu0/results.json", tmp));
    assert_true(json_object_size(a) > 0);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    /* GPUs of two types: one table per type, refused */
    setenv("QBENCH_FAKE_CUDA_DEVICES", "NVIDIA H100 80GB HBM3@9.0;NVIDIA A100-SXM4-80GB@8.0", 1);
    unsetenv("CUDA_VISIBLE_DEVICES");
    expect_fail(gpus, 2, "the visible GPUs are not of one type");
    expect_fail((const char *[]){"sweep", "--device", "cuda:all", "--shard", "0/2", NULL}, 2, "leave out --shard");
    setenv("QBENCH_FAKE_CUDA_DEVICES", "", 1);
    expect_fail(gpus, 2, "--device cuda:all: no CUDA device");
    unsetenv("QBENCH_FAKE_CUDA_DEVICES");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_shard QBENCH\n");
        return 2;
    }
    qbench = argv[1];
    snprintf(tmp, sizeof tmp, "/tmp/qbench-shard-XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_arguments),
        cmocka_unit_test(test_shards_partition_the_run_set),
        cmocka_unit_test(test_merge_rules),
        cmocka_unit_test(test_one_worker_per_gpu),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
