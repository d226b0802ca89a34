/* The qbench binary end to end: exit codes and messages of `profile validate` on every kind
 * of bad profile, the CLI's handling of bad commands and options, `probe` output, and
 * `devices` checked against the kernel's own view of the CPU (/proc, /sys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <signal.h>
#include <unistd.h>

#include "tests/testutil.h"
#include "tuner/roofline.h"

static const char *qbench;

/* A valid profile; the cases below change one line of it. Line numbers are 1-based. */
static const char *const good[] = {
    "qbench_profile: 1",                                        /* 1 */
    "name: test-gpu",                                           /* 2 */
    "vendor: Example",                                          /* 3 */
    "aliases: [tg]",                                            /* 4 */
    "match:",                                                   /* 5 */
    "  backend: cuda",                                          /* 6 */
    "  name: \"*Test GPU*\"",                                   /* 7 */
    "  compute_capability: \"9.0\"",                            /* 8 */
    "spec:",                                                    /* 9 */
    "  memory_bandwidth_gbs: {value: 3350, source: \"sheet\"}", /* 10 */
    "  fp16_tflops: {value: 989, source: \"sheet\"}",           /* 11 */
    "  sms: {value: 132, source: \"sheet\", note: \"n\"}",      /* 12 */
};
enum { N_GOOD = sizeof good / sizeof good[0] };

/* The good profile with line `line` replaced by `text` (NULL deletes it; line 0 appends). */
static char *variant(int line, const char *text)
{
    size_t cap = 4096;
    char *s = calloc(cap, 1);
    for (int i = 1; i <= N_GOOD; i++) {
        const char *l = i == line ? text : good[i - 1];
        if (l)
            snprintf(s + strlen(s), cap - strlen(s), "%s\n", l);
    }
    if (line == 0)
        snprintf(s + strlen(s), cap - strlen(s), "%s\n", text);
    return s;
}

static void expect_validate(const void *data, size_t len, int want_rc, int want_line, const char *want_msg)
{
    char *path = tu_write_temp(data, len, ".yaml");
    const char *args[] = {"profile", "validate", path, NULL};
    char *out, *err;
    int rc = tu_run(qbench, args, &out, &err);
    char want[512];
    if (want_line > 0)
        snprintf(want, sizeof want, "qbench: %s:%d: %s", path, want_line, want_msg);
    else
        snprintf(want, sizeof want, "%s", want_msg);
    if (rc != want_rc || !strstr(err, want))
        print_error("rc=%d (want %d)\nstderr: %s\nwanted: %s\n", rc, want_rc, err, want);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(err, want));
    unlink(path);
    free(path);
    free(out);
    free(err);
}

static void expect_variant(int line, const char *text, int want_line, const char *want_msg)
{
    char *s = variant(line, text);
    expect_validate(s, strlen(s), 2, want_line, want_msg);
    free(s);
}

static void test_good_profile_validates(void **state)
{
    (void)state;
    char *s = variant(-1, NULL);
    char *path = tu_write_temp(s, strlen(s), ".yaml");
    const char *args[] = {"profile", "validate", path, NULL};
    char *out, *err;
    assert_int_equal(tu_run(qbench, args, &out, &err), 0);
    assert_non_null(strstr(out, ": ok (test-gpu)"));
    assert_string_equal(err, "");
    unlink(path);
    free(path);
    free(s);
    free(out);
    free(err);
}

static void test_unknown_key(void **state)
{
    (void)state;
    expect_variant(0, "colour: red", 13, "unknown key 'colour' in the profile (known keys: qbench_profile, name");
    expect_variant(12, "  fp64_tflops: {value: 60, source: \"sheet\"}", 12, "unknown key 'fp64_tflops' in spec");
    expect_variant(10, "  memory_bandwidth_gbs: {value: 3350, source: \"s\", units: GB}", 10,
                   "unknown key 'units' in spec.memory_bandwidth_gbs");
}

static void test_wrong_type(void **state)
{
    (void)state;
    expect_variant(11, "  fp16_tflops: {value: \"fast\", source: \"sheet\"}", 11,
                   "spec.fp16_tflops.value must be a number, got a quoted string");
    expect_variant(11, "  fp16_tflops: {value: lots, source: \"sheet\"}", 11,
                   "spec.fp16_tflops.value must be a number, got 'lots'");
    expect_variant(11, "  fp16_tflops: 989", 11, "spec.fp16_tflops must be a mapping, got a plain scalar");
    expect_variant(4, "aliases: tg", 4, "aliases must be a list of names");
    expect_variant(6, "  backend: rocm", 6, "match.backend must be cpu or cuda, got 'rocm'");
    expect_variant(8, "  compute_capability: \"nine\"", 8, "match.compute_capability must be MAJOR.MINOR");
    expect_variant(2, "name: Test GPU", 2, "name 'Test GPU' may hold only a-z, 0-9");
    expect_variant(0, "measured: [x]", 13, "measured must be a mapping, got a list");
    expect_variant(0, "notes: [a, b]", 13, "notes must be a non-empty string, got a list");
}

static void test_missing_required_key(void **state)
{
    (void)state;
    expect_variant(3, NULL, 1, "missing required key 'vendor' in the profile");
    expect_variant(12, "  sms: {value: 132}", 12, "missing required key 'source' in spec.sms");
    expect_variant(6, NULL, 6, "missing required key 'backend' in match");
    expect_variant(1, NULL, 1, "missing required key 'qbench_profile' in the profile");
}

static void test_nonpositive_peak(void **state)
{
    (void)state;
    expect_variant(10, "  memory_bandwidth_gbs: {value: 0, source: \"sheet\"}", 10,
                   "spec.memory_bandwidth_gbs.value is 0: a figure must be > 0");
    expect_variant(11, "  fp16_tflops: {value: -989, source: \"sheet\"}", 11,
                   "spec.fp16_tflops.value is -989: a figure must be > 0");
}

static void test_unsupported_schema(void **state)
{
    (void)state;
    expect_variant(1, "qbench_profile: 2", 1, "unsupported schema version 2 (this qbench reads qbench_profile: 1");
    expect_variant(1, "qbench_profile: one", 1, "qbench_profile must be a number, got 'one'");
}

static void test_duplicate_key(void **state)
{
    (void)state;
    expect_variant(4, "vendor: Other", 4, "duplicate key 'vendor' in the profile (first given on line 3");
}

static void test_not_yaml(void **state)
{
    (void)state;
    expect_variant(4, "aliases: [tg", 5, "not valid YAML: did not find expected ',' or ']'");
    const char *scalar = "just some words\n";
    expect_validate(scalar, strlen(scalar), 2, 1, "not a qbench profile: the top level is a plain scalar");
    char *two = variant(0, "---\nname: again");
    expect_validate(two, strlen(two), 2, 14, "a second YAML document");
    free(two);
}

static void test_empty(void **state)
{
    (void)state;
    expect_validate("", 0, 2, 1, "empty file (a profile needs qbench_profile: 1");
    const char *comments = "# nothing here\n\n";
    expect_validate(comments, strlen(comments), 2, 1, "empty file");
}

static void test_binary_garbage(void **state)
{
    (void)state;
    unsigned char junk[4096];
    srand(7);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(rand() >> 7);
    junk[100] = 0; /* a NUL byte, as binary files have */
    expect_validate(junk, sizeof junk, 2, 0, "binary data (a NUL byte)");
    /* no NUL, but not UTF-8 text either */
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(0x80 | (rand() >> 9));
    expect_validate(junk, sizeof junk, 2, 1, "not valid YAML: invalid leading UTF-8 octet");
}

static void test_missing_file(void **state)
{
    (void)state;
    const char *args[] = {"profile", "validate", "/nonexistent/x.yaml", NULL};
    char *out, *err;
    assert_int_equal(tu_run(qbench, args, &out, &err), 2);
    assert_non_null(strstr(err, "qbench: /nonexistent/x.yaml: cannot open: No such file or directory"));
    free(out);
    free(err);
}

static void test_shipped_profiles_validate(void **state)
{
    (void)state;
    const char *args[] = {"profile",
                          "validate",
                          "profiles/a100-sxm4-80gb.yaml",
                          "profiles/h100-sxm5-80gb.yaml",
                          "profiles/h200-sxm.yaml",
                          "profiles/l40s.yaml",
                          "profiles/rtx-4090.yaml",
                          NULL};
    char *out, *err;
    assert_int_equal(tu_run(qbench, args, &out, &err), 0);
    assert_string_equal(err, "");
    for (int i = 2; args[i]; i++)
        assert_non_null(strstr(out, args[i]));
    free(out);
    free(err);
}

static void expect_rc(const char *const *args, int want_rc, const char *want_err)
{
    char *out, *err;
    int rc = tu_run(qbench, args, &out, &err);
    if (rc != want_rc || !strstr(err, want_err))
        print_error("rc=%d stderr=%s\n", rc, err);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(err, want_err));
    free(out);
    free(err);
}

static void test_bad_command_line(void **state)
{
    (void)state;
    expect_rc((const char *[]){"frobnicate", NULL}, 2, "qbench: unknown command 'frobnicate' (run 'qbench help'");
    expect_rc((const char *[]){"probe", "--bogus", NULL}, 2, "qbench probe: unknown option '--bogus'");
    expect_rc((const char *[]){"probe", "-x", NULL}, 2, "qbench probe: unknown option '-x'");
    expect_rc((const char *[]){"probe", "--output", NULL}, 2, "qbench probe: option '--output' needs a value");
    expect_rc((const char *[]){"devices", "extra", NULL}, 2, "qbench devices: unexpected argument 'extra'");
    expect_rc((const char *[]){"profile", NULL}, 2, "missing subcommand");
    expect_rc((const char *[]){"profile", "frob", NULL}, 2, "unknown subcommand 'frob'");
    expect_rc((const char *[]){"profile", "show", "no-such-device", NULL}, 2, "no profile named 'no-such-device'");
    expect_rc((const char *[]){"probe", "--device", "no-such-device", NULL}, 2,
              "--device no-such-device: no such device or profile");
    /* the sweep names each known device once ("host" is not also listed as a catalog entry) */
    expect_rc((const char *[]){"sweep", "--device", "no-such-device", NULL}, 2,
              "(known: host, cuda:N, a100-sxm4-80gb, h100-sxm5-80gb, h200-sxm, l40s, rtx-4090; ");
    expect_rc((const char *[]){"--version", NULL}, 0, "");
    expect_rc((const char *[]){"help", "probe", NULL}, 0, "");
    expect_rc((const char *[]){"profile", "show", "h100", NULL}, 0, "");
}

static void test_run_bad_arguments(void **state)
{
    (void)state;
    expect_rc((const char *[]){"run", "--scheme", "w4a16", "-m", "0", NULL}, 2,
              "qbench: sizes must be positive, got M=0 N=4096 K=4096");
    expect_rc((const char *[]){"run", "--scheme", "fp16", "-n", "-5", NULL}, 2, "sizes must be positive");
    expect_rc((const char *[]){"run", "--scheme", "w4a16", "--act", "fp32", NULL}, 2, "--act 'fp32': use fp16 or bf16");
    expect_rc((const char *[]){"run", "--scheme", "fp16", "--act", "bf16", NULL}, 2, "fp16 multiplies fp16 activations");
    expect_rc((const char *[]){"sweep", "--act", "int8", "-o", "/tmp/qbench-never", NULL}, 2, "--act 'int8'");
    expect_rc((const char *[]){"run", "--scheme", "fp16", "-k", "12x", NULL}, 2, "-k '12x': expected a whole number");
    expect_rc((const char *[]){"run", "--scheme", "int3", NULL}, 2, "unknown scheme 'int3'");
    expect_rc((const char *[]){"run", NULL}, 2, "--scheme is required");
    expect_rc((const char *[]){"run", "--scheme", "w4a16", "-k", "1000", "--group", "128", NULL}, 2,
              "K=1000 is not a multiple of the group size 128");
    expect_rc((const char *[]){"run", "--scheme", "w4a16", "--group", "12", NULL}, 2, "group 12: use -1");
    expect_rc((const char *[]){"run", "--scheme", "fp16", "--group", "64", NULL}, 2, "--group applies to w4a16");
    expect_rc((const char *[]){"run", "--scheme", "fp16", "-m", "100000", "-n", "100000", "-k", "100000", NULL}, 2,
              "would need");
    expect_rc((const char *[]){"run", "--scheme", "w8a8", "--config", "mr=9", NULL}, 2,
              "invalid configuration: mr=9");
    expect_rc((const char *[]){"run", "--scheme", "w8a8", "--kernel", "fp16.avx2", NULL}, 2,
              "kernel fp16.avx2 computes fp16, not w8a8");
    expect_rc((const char *[]){"run", "--scheme", "fp16", "--smooth", "0.5", NULL}, 2, "--smooth applies to");
}

static void test_run_checks_and_times(void **state)
{
    (void)state;
    const char *args[] = {"run", "--scheme", "w4a16", "--asym", "-m", "3", "-n", "40", "-k", "256", "--group", "64",
                          "--min-time", "0.01", "--json", NULL};
    char *out, *err;
    assert_int_equal(tu_run(qbench, args, &out, &err), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "correct")));
    double kerr = json_real_value(json_object_get(j, "kernel_error"));
    double qerr = json_real_value(json_object_get(j, "quant_error"));
    assert_true(kerr <= json_real_value(json_object_get(j, "kernel_error_limit")));
    assert_true(qerr > kerr && qerr < 0.5); /* int4 costs accuracy; the kernel adds almost none */
    json_t *t = json_object_get(j, "time");
    assert_true(json_real_value(json_object_get(t, "median_s")) > 0);
    assert_int_equal(json_integer_value(json_object_get(t, "repetitions")), 10);
    assert_true(json_real_value(json_object_get(j, "gflops")) > 0);
    /* 5.6 KB of weights: even 512 rotated copies stay inside the LLC, and the run says so */
    json_t *wj = json_object_get(j, "weights");
    assert_int_equal(json_integer_value(json_object_get(wj, "copies")), 512);
    assert_string_equal(json_string_value(json_object_get(wj, "cache_mode")), "warm");
    json_decref(j);
    free(out);
    free(err);
    /* SmoothQuant moves activation outliers into the weights: w8a8's quantization error drops */
    double e[2];
    for (int i = 0; i < 2; i++) {
        const char *a2[] = {"run", "--scheme", "w8a8", "-m", "8", "-n", "64", "-k", "1024", "--min-time", "0.01",
                            "--json", i ? "--smooth" : NULL, "0.5", NULL};
        assert_int_equal(tu_run(qbench, a2, &out, &err), 0);
        j = json_loads(out, 0, &je);
        assert_non_null(j);
        e[i] = json_real_value(json_object_get(j, "quant_error"));
        json_decref(j);
        free(out);
        free(err);
    }
    print_message("w8a8 quantization error: %.3e plain, %.3e with SmoothQuant alpha 0.5\n", e[0], e[1]);
    assert_true(e[1] < e[0]);
    expect_rc((const char *[]){"kernels", NULL}, 0, "");
}

/* Distinct points in a results file (by their "point" field), and their median times. */
static int count_points(const char *path, double *medians, int max)
{
    json_t *doc = json_load_file(path, 0, NULL);
    if (!doc)
        return -1;
    const char *seen[512];
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, e)
    {
        const char *pt = json_string_value(json_object_get(e, "point"));
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= !strcmp(seen[j], pt);
        if (dup || n == 512)
            continue;
        if (medians && n < max)
            medians[n] = json_real_value(json_object_get(e, "time_median_s"));
        seen[n++] = pt;
    }
    json_decref(doc);
    return n;
}

static char *profile_dir;

/* A measured host profile on the search path, so that each sweep need not probe first. */
static void ensure_host_profile(void)
{
    if (profile_dir)
        return;
    char tmpl[] = "/tmp/qbench-prof-XXXXXX";
    profile_dir = strdup(mkdtemp(tmpl));
    char path[256];
    snprintf(path, sizeof path, "%s/host.yaml", profile_dir);
    char *out, *err;
    assert_int_equal(tu_run(qbench, (const char *[]){"probe", "--quick", "-o", path, NULL}, &out, &err), 0);
    free(out);
    free(err);
    setenv("QBENCH_PROFILE_PATH", profile_dir, 1);
}

static void test_sweep_interrupt_and_resume(void **state)
{
    (void)state;
    ensure_host_profile();
    char dir[] = "/tmp/qbench-sweep-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char res[300], o[300], e[300], outdir[256];
    snprintf(outdir, sizeof outdir, "%s/run", dir);
    snprintf(res, sizeof res, "%s/results.json", outdir);
    snprintf(o, sizeof o, "%s/out", dir);
    snprintf(e, sizeof e, "%s/err", dir);
    const char *args[] = {"sweep", "--schemes", "fp16,w4a16,w8a8", "--group", "128", "--shapes", "512x512,256x1024",
                          "--batch", "1:64", "--min-time", "0.05", "--repetitions", "2", "-o", outdir, NULL};
    int pid = tu_start(qbench, args, o, e);
    /* wait for the first finished point, then Ctrl-C */
    int n = 0;
    for (int i = 0; i < 600 && n < 1; i++) {
        usleep(50000);
        n = count_points(res, NULL, 0);
    }
    assert_true(n >= 1);
    kill(pid, SIGINT);
    assert_int_equal(tu_wait(pid), 130);
    char *err = tu_slurp(e);
    assert_non_null(strstr(err, "interrupted:"));
    assert_non_null(strstr(err, "--resume"));
    free(err);
    /* 3 schemes x 2 shapes x 7 M, and oneDNN's w8a8 beside ours where it is here */
    const qk_kernel *lib = qk_kernel_find("w8a8.onednn");
    const int total = 3 * 2 * 7 + (lib && qk_kernel_supported(lib) ? 2 * 7 : 0);
    double before[64];
    int done = count_points(res, before, 64);
    print_message("interrupted after %d of %d points\n", done, total);
    assert_true(done >= 1 && done < total);
    /* no temporary file is left behind */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -c tmp", outdir);
    FILE *ls = popen(cmd, "r");
    int tmps = -1;
    assert_int_equal(fscanf(ls, "%d", &tmps), 1);
    pclose(ls);
    assert_int_equal(tmps, 0);
    /* resume: the rest is run, the finished points are kept as they were */
    const char *again[] = {"sweep", "--schemes", "fp16,w4a16,w8a8", "--group", "128", "--shapes", "512x512,256x1024",
                           "--batch", "1:64", "--min-time", "0.01", "--repetitions", "2", "--resume", res, NULL};
    char *out;
    assert_int_equal(tu_run(qbench, again, &out, &err), 0);
    double after[64];
    assert_int_equal(count_points(res, after, 64), total);
    for (int i = 0; i < done; i++)
        assert_true(after[i] == before[i]);
    char line[64];
    snprintf(line, sizeof line, "run now, %d in", total);
    assert_non_null(strstr(out, line));
    free(out);
    free(err);
    /* two sweeps compare with Google Benchmark's compare.py */
    char dir2[256], res2[300];
    snprintf(dir2, sizeof dir2, "%s/small", dir);
    snprintf(res2, sizeof res2, "%s/results.json", dir2);
    const char *small[] = {"sweep", "--schemes", "w4a16", "--shapes", "512x512", "--batch", "1,4", "--min-time",
                           "0.01", "--repetitions", "3", "-o", dir2, NULL};
    assert_int_equal(tu_run(qbench, small, &out, &err), 0);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 /usr/share/benchmark/compare.py benchmarks %s %s 2>&1", res2, res2);
    FILE *cp = popen(cmd, "r");
    char buf[4096], sink[4096];
    size_t got = fread(buf, 1, sizeof buf - 1, cp);
    buf[got] = '\0';
    while (fread(sink, 1, sizeof sink, cp) > 0) /* read it all: a closed pipe would fail compare.py */
        ;
    int crc = pclose(cp);
    if (crc != 0 || !strstr(buf, "Comparing"))
        print_error("compare.py: %s\n", buf);
    assert_int_equal(crc, 0);
    assert_non_null(strstr(buf, "w4a16/g128/sym/f16/m1/n512/k512"));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* One try of run against sweep: 1 when their times agree within the measured noise. */
static int one_point_agrees(const char *dir)
{
    const char *run[] = {"run", "--scheme", "w4a16", "--group", "64", "-m", "11", "-n", "300", "-k", "512",
                         "--min-time", "0.3", "--json", NULL};
    const char *sweep[] = {"sweep", "--schemes", "w4a16", "--group", "64", "--shapes", "300x512", "--batch", "11",
                           "--min-time", "0.03", "--repetitions", "10", "-o", dir, NULL};
    char *out, *err;
    assert_int_equal(tu_run(qbench, run, &out, &err), 0);
    json_t *r = json_loads(out, 0, NULL);
    assert_non_null(r);
    free(out), free(err);
    assert_int_equal(tu_run(qbench, sweep, &out, &err), 0);
    free(out), free(err);
    char path[300];
    snprintf(path, sizeof path, "%s/results.json", dir);
    json_t *doc = json_load_file(path, 0, NULL), *e = NULL, *it;
    size_t i;
    assert_non_null(doc);
    json_array_foreach(json_object_get(doc, "benchmarks"), i, it)
        if (!e && json_object_get(it, "kernel_error"))
            e = it;
    assert_non_null(e);
    assert_true(json_is_true(json_object_get(r, "correct")));
    assert_string_equal(json_string_value(json_object_get(e, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(r, "config")), json_string_value(json_object_get(e, "config")));
    double ke[2] = {json_real_value(json_object_get(r, "kernel_error")), json_real_value(json_object_get(e, "kernel_error"))};
    double qe[2] = {json_real_value(json_object_get(r, "quant_error")), json_real_value(json_object_get(e, "quant_error"))};
    print_message("run: kernel error %.6e, quantization error %.6e; sweep: %.6e, %.6e\n", ke[0], qe[0], ke[1], qe[1]);
    assert_true(ke[0] == ke[1] && qe[0] == qe[1]);
    json_t *chk = json_object_get(e, "checked");
    assert_int_equal(json_integer_value(json_object_get(r, "checked_rows")), json_integer_value(json_object_get(chk, "rows")));
    assert_int_equal(json_integer_value(json_object_get(r, "checked_cols")), json_integer_value(json_object_get(chk, "cols")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "weights"), "copies")),
                     json_integer_value(json_object_get(e, "weight_copies")));
    double t[2] = {json_real_value(json_object_get(json_object_get(r, "time"), "median_s")),
                   json_real_value(json_object_get(e, "time_median_s"))};
    double cv[2] = {json_real_value(json_object_get(json_object_get(r, "time"), "cv")),
                    json_real_value(json_object_get(e, "time_cv"))};
    double noise = 4 * sqrt(pow(cv[0] * t[0], 2) + pow(cv[1] * t[1], 2)), floor = 0.25 * fmin(t[0], t[1]);
    print_message("run %.4g ms (cv %.1f%%), sweep %.4g ms (cv %.1f%%): difference %.4g ms, allowed %.4g ms\n",
                  t[0] * 1e3, 100 * cv[0], t[1] * 1e3, 100 * cv[1], fabs(t[0] - t[1]) * 1e3, fmax(noise, floor) * 1e3);
    json_decref(doc);
    json_decref(r);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s/*", dir);
    assert_int_equal(system(cmd), 0);
    return fabs(t[0] - t[1]) <= fmax(noise, floor);
}

/* qbench run is a one-point sweep: the same point run both ways gives the same check (the same
 * data, the same sampled rows and channels, bit for bit the same errors), the same cold copies,
 * and times within the measured noise. The two are separate processes, seconds apart: on a
 * machine that other work loads meanwhile (a parallel ctest under the sanitizers measured 3.6
 * against 0.34 ms), the times are taken again, three tries in all. */
static void test_run_is_a_one_point_sweep(void **state)
{
    (void)state;
    ensure_host_profile();
    char dir[] = "/tmp/qbench-one-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int agree = 0;
    for (int try = 0; try < 3 && !agree; try++)
        agree = one_point_agrees(dir);
    assert_true(agree);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_sweep_predict_and_refusal(void **state)
{
    (void)state;
    expect_rc((const char *[]){"sweep", "--device", "h100", "--quick", "-o", "/tmp/qbench-never", NULL}, 2,
              "cannot measure on --device h100");
    expect_rc((const char *[]){"sweep", "--device", "h100", "-o", "/tmp/qbench-never", NULL}, 2, "add --predict");
    assert_int_equal(access("/tmp/qbench-never", F_OK), -1);
    expect_rc((const char *[]){"sweep", "--batch", "0", NULL}, 2, "--batch '0'");
    expect_rc((const char *[]){"sweep", "--shapes", "gpt-9", NULL}, 2, "unknown shape 'gpt-9'");
    expect_rc((const char *[]){"sweep", "--configs", "most", NULL}, 2, "--configs 'most'");
    expect_rc((const char *[]){"sweep", "--resume", "/nonexistent/r.json", NULL}, 2, "/nonexistent/r.json");
    char pdir[] = "/tmp/qbench-predict-XXXXXX";
    assert_non_null(mkdtemp(pdir));
    char path[300], *out, *err;
    snprintf(path, sizeof path, "%s/results.json", pdir);
    const char *args[] = {"sweep", "--device", "h100", "--predict", "--quick", "-o", pdir, NULL};
    assert_int_equal(tu_run(qbench, args, &out, &err), 0);
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    size_t i, n = json_array_size(json_object_get(doc, "benchmarks"));
    json_t *e;
    assert_int_equal(n, QK_SCHEME_COUNT * 2 * 5); /* every scheme, 2 shapes, 5 M values: one entry each */
    json_array_foreach(json_object_get(doc, "benchmarks"), i, e)
    {
        assert_true(json_is_true(json_object_get(e, "predicted")));
        assert_string_equal(json_string_value(json_object_get(e, "status")), "predicted");
        assert_true(json_real_value(json_object_get(e, "time_median_s")) > 0);
    }
    /* decode is memory-bound: M=1 w4a16 on 4096x4096 at 3350 GB/s */
    json_decref(doc);
    free(out);
    free(err);
    /* A100 has no FP8: those points say so instead of inventing a time */
    const char *a100[] = {"sweep", "--device", "a100", "--predict", "--quick", "--schemes", "fp8,w4a16", "-o", pdir, NULL};
    assert_int_equal(tu_run(qbench, a100, &out, &err), 0);
    doc = json_load_file(path, 0, NULL);
    int failed = 0, predicted = 0;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, e)
    {
        const char *st = json_string_value(json_object_get(e, "status"));
        if (!strcmp(st, "failed")) {
            failed++;
            assert_non_null(strstr(json_string_value(json_object_get(e, "error")), "no compute ceiling for fp8"));
        } else {
            predicted++;
        }
    }
    assert_int_equal(failed, 10);
    assert_int_equal(predicted, 10);
    json_decref(doc);
    free(out);
    free(err);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", pdir);
    assert_int_equal(system(cmd), 0);
}

/* A copy of the golden results: the tests change some of them. */
static char *golden_copy(void)
{
    char *text = tu_slurp("tests/golden/results.json");
    assert_non_null(text);
    char *path = tu_write_temp(text, strlen(text), ".json");
    free(text);
    return path;
}

static void test_fit_tune_emit_plot(void **state)
{
    (void)state;
    char *res = golden_copy(), *out, *err;
    char prof[256];
    snprintf(prof, sizeof prof, "%s.profile.yaml", res);
    char *before = tu_slurp(res);
    /* fit: a table of fitted against probed ceilings, efficiencies, crossovers; into the profile */
    assert_int_equal(tu_run(qbench, (const char *[]){"fit", res, "--report", "-o", prof, NULL}, &out, &err), 0);
    assert_non_null(strstr(out, "memory side"));
    assert_non_null(strstr(out, "shape left out"));
    /* each scheme's largest error named: its kernel, shape and M, measured against predicted */
    const char *worst = strstr(out, "largest error lies");
    assert_non_null(worst);
    assert_non_null(strstr(worst, "  fp16 "));
    assert_non_null(strstr(worst, " fp16.avx"));
    assert_non_null(strstr(worst, "GFLOP/s), predicted "));
    assert_non_null(strstr(out, "reaches"));
    assert_non_null(strstr(out, "crossovers"));
    assert_non_null(strstr(out, "pairs' turns predicted within one measured M"));
    free(out), free(err);
    assert_int_equal(tu_run(qbench, (const char *[]){"profile", "validate", prof, NULL}, &out, &err), 0);
    free(out), free(err);
    /* forward only: the results are as the sweep wrote them, byte for byte, and the profile's
     * provenance names them (the hash of these very bytes) */
    char *after = tu_slurp(res);
    assert_string_equal(before, after);
    char hash[17], line[64];
    qt_hash_bytes(after, strlen(after), hash);
    snprintf(line, sizeof line, "results: \"%s\"\n", hash);
    char *y = tu_slurp(prof);
    assert_non_null(strstr(y, "\nfit:\n"));
    assert_non_null(strstr(y, "{kernel: w4a16.avx512bf16, format: bf16_dot, threads: 2, mem_eff: "));
    if (!strstr(y, line))
        print_error("profile:\n%s\nwanted: %s", y, line);
    assert_non_null(strstr(y, line));
    free(y);
    /* the dispatch table names the same file */
    char hdr[300];
    snprintf(hdr, sizeof hdr, "%s.h", res);
    assert_int_equal(tu_run(qbench, (const char *[]){"emit", res, "--format", "header", "-o", hdr, NULL}, &out, &err),
                     0);
    free(out), free(err);
    char *h = tu_slurp(hdr);
    assert_non_null(strstr(h, hash));
    free(h);
    unlink(hdr);
    free(before);
    free(after);
    /* tune */
    assert_int_equal(tu_run(qbench, (const char *[]){"tune", res, "--max-error", "0.05", NULL}, &out, &err), 0);
    assert_non_null(strstr(out, "roofline pruning"));
    assert_non_null(strstr(out, "excluded: w4a16"));
    free(out), free(err);
    /* plot: PNG and SVG files */
    char dir[] = "/tmp/qbench-plots-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(tu_run(qbench, (const char *[]){"plot", res, "-o", dir, NULL}, &out, &err), 0);
    assert_non_null(strstr(out, "wrote 5 pictures"));
    free(out), free(err);
    const char *pics[] = {"roofline", "winners", "throughput-512x1024", "throughput-1024x512", "residuals"};
    for (int i = 0; i < 5; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s.png", dir, pics[i]);
        char *png = tu_slurp(p);
        assert_non_null(png);
        assert_memory_equal(png, "\x89PNG", 4);
        free(png);
        snprintf(p, sizeof p, "%s/%s.svg", dir, pics[i]);
        char *svg = tu_slurp(p);
        assert_non_null(svg);
        assert_non_null(strstr(svg, "<svg"));
        free(svg);
    }
    /* a shape measured at fewer M than another (a held-out shape stops at --holdout-max-m): the
     * winners' grid has a hole, drawn blank */
    json_t *doc = json_load_file(res, 0, NULL);
    json_t *all = json_object_get(doc, "benchmarks");
    for (size_t i = json_array_size(all); i-- > 0;) {
        json_t *e = json_array_get(all, i);
        if (json_integer_value(json_object_get(e, "n")) == 512 && json_integer_value(json_object_get(e, "m")) == 64)
            json_array_remove(all, i);
    }
    assert_int_equal(json_dump_file(doc, res, 0), 0);
    json_decref(doc);
    assert_int_equal(tu_run(qbench, (const char *[]){"plot", res, "-o", dir, NULL}, &out, &err), 0);
    assert_non_null(strstr(out, "wrote 5 pictures"));
    free(out), free(err);
    char wdat[512];
    snprintf(wdat, sizeof wdat, "%s/winners.dat", dir);
    char *w = tu_slurp(wdat);
    assert_non_null(strstr(w, "\n3 0 NaN \"\"\n")); /* 512x1024, the first row, at M = 64 */
    free(w);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s %s", dir, prof, res);
    assert_int_equal(system(cmd), 0);
    free(res);
}

/* A fit without --profile goes into the profile the sweep wrote beside the results and keeps the
 * ceilings it probed, so that predict answers from that file. */
static void test_fit_keeps_probed_ceilings(void **state)
{
    (void)state;
    char dir[] = "/tmp/qbench-fitdir-XXXXXX", cmd[600], *out, *err;
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cp tests/golden/results.json %s/results.json", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tu_run(qbench, (const char *[]){"profile", "show", "host", NULL}, &out, &err), 0);
    char *prof = tu_path("%s/profile-host.yaml", dir), *res = tu_path("%s/results.json", dir);
    char *m = strstr(out, "\nmeasured:\n");
    if (m) { /* the host profile on the search path was probed (an earlier test): its section out */
        char *e = strchr(m + 1, '\n');
        while (e && (e[1] == ' ' || e[1] == '-'))
            e = strchr(e + 1, '\n');
        if (e)
            memmove(m + 1, e + 1, strlen(e + 1) + 1);
        else
            m[1] = '\0';
    }
    FILE *f = fopen(prof, "w");
    assert_non_null(f);
    fprintf(f, "%smeasured:\n  date: 2026-01-01T00:00:00Z\n  host: \"test\"\n  qbench_version: \"0\"\n"
               "  device: \"test\"\n  threads: 2\n  bandwidth:\n"
               "  - {level: DRAM, threads: 2, working_set: 268435456, read_gbs: 34.6, read_cv: 0.03, rw_gbs: 54.1, "
               "rw_cv: 0.07}\n  peak:\n  - {format: fp32_fma, isa: avx2, threads: 2, gops: 235.9, cv: 0.02}\n",
            out);
    fclose(f);
    free(out), free(err);
    assert_int_equal(tu_run(qbench, (const char *[]){"fit", res, NULL}, &out, &err), 0);
    assert_non_null(strstr(out, prof)); /* "wrote the fit into DIR/profile-host.yaml" */
    free(out), free(err);
    char *y = tu_slurp(prof);
    assert_non_null(strstr(y, "read_gbs: 34.6"));
    assert_non_null(strstr(y, "\nfit:\n"));
    free(y);
    assert_int_equal(tu_run(qbench, (const char *[]){"predict", "--device", prof, "--scheme", "fp16", "-m", "1", "-n",
                                                     "4096", "-k", "4096", NULL},
                            &out, &err),
                     0);
    assert_null(strstr(out, "no ceiling"));
    assert_non_null(strstr(out, "memory fp16."));
    free(out), free(err);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_tuner_bad_inputs(void **state)
{
    (void)state;
    char *res = golden_copy();
    /* results from another device than the profile */
    expect_rc((const char *[]){"fit", res, "--profile", "h100", NULL}, 2,
              "the results were made on host, the profile is h100-sxm5-80gb");
    expect_rc((const char *[]){"emit", res, "--format", "pdf", "-o", "/tmp/x", NULL}, 2, "--format header, json or vllm");
    expect_rc((const char *[]){"tune", res, "--max-error", "x", NULL}, 2, "--max-error 'x'");
    /* only failed points */
    json_t *doc = json_load_file(res, 0, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, e)
    {
        json_object_set_new(e, "status", json_string("failed"));
        json_object_set_new(e, "error", json_string("wrong result"));
    }
    json_dump_file(doc, res, 0);
    expect_rc((const char *[]){"tune", res, NULL}, 2, "points failed; there is nothing to fit or tune");
    expect_rc((const char *[]){"fit", res, NULL}, 2, "points failed");
    /* empty */
    json_array_clear(json_object_get(doc, "benchmarks"));
    json_dump_file(doc, res, 0);
    json_decref(doc);
    expect_rc((const char *[]){"tune", res, NULL}, 2, "no points (run a sweep into it first)");
    expect_rc((const char *[]){"plot", res, "-o", "/tmp/qbench-never-plots", NULL}, 2, "no points");
    unlink(res);
    free(res);
}

static void test_predict(void **state)
{
    (void)state;
    char *out, *err;
    const char *args[] = {"predict", "--device", "h100", "-m", "16", "-n", "8192", "-k", "28672", "--crossovers", NULL};
    assert_int_equal(tu_run(qbench, args, &out, &err), 0);
    /* decode on H100 is memory-bound: w4a16 moves a quarter of fp16's bytes */
    assert_non_null(strstr(out, "w4a16         36.50   memory w4a16.cuda           spec"));
    assert_non_null(strstr(out, "fp16         140.58   memory fp16.cublaslt        spec"));
    assert_non_null(strstr(out, "w4a16 → w8a8 at M≈"));
    free(out), free(err);
    /* the same profile by its file */
    args[2] = "profiles/h100-sxm5-80gb.yaml";
    assert_int_equal(tu_run(qbench, args, &out, &err), 0);
    assert_non_null(strstr(out, "w4a16         36.50   memory w4a16.cuda           spec"));
    free(out), free(err);
    expect_rc((const char *[]){"predict", "--device", "no-such-device", "-m", "1", "-n", "64", "-k", "64", NULL}, 2,
              "no profile named 'no-such-device'");
    expect_rc((const char *[]){"predict", "--device", "a100", "--scheme", "fp8", "-m", "1", "-n", "64", "-k", "64", NULL}, 2,
              "profile a100-sxm4-80gb has no fp8 ceiling");
    expect_rc((const char *[]){"predict", "-m", "1", NULL}, 2, "--device is required");
}

/* Compiles a C99 program whose main() is `body`, with dir's qbench_dispatch_host.h included, runs
 * it and returns what it printed (free it). */
static char *run_with_header(const char *dir, const char *body)
{
    char src[300], cmd[1400];
    snprintf(src, sizeof src, "%s/p.c", dir);
    FILE *f = fopen(src, "w");
    assert_non_null(f);
    fprintf(f, "#include <stdio.h>\n#include \"qbench_dispatch_host.h\"\nint main(void)\n{\n%s}\n", body);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -std=c99 -Wall -Werror -I%s -o %s/p %s && %s/p > %s/p.out", dir, dir, src, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(src, sizeof src, "%s/p.out", dir);
    return tu_slurp(src);
}

/* The model a dispatch header answers unseen shapes with is the one `qbench predict` uses: the
 * sweep's profile, its ceilings times the efficiencies fitted to the sweep. */
static void test_header_model_equals_predict(void **state)
{
    (void)state;
    ensure_host_profile();
    char dir[] = "/tmp/qbench-model-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *out, *err;
    const char *sweep[] = {"sweep", "--schemes", "fp16,w4a16", "--shapes", "512x1024,1024x512", "--batch", "1,2,8,32",
                           "--min-time", "0.01", "--repetitions", "2", "-o", dir, NULL};
    assert_int_equal(tu_run(qbench, sweep, &out, &err), 0);
    free(out), free(err);
    char *got = run_with_header(dir, "    printf(\"%.2f %.2f %.2f %.2f\\n\", qbd_host_predict(QBD_HOST_FP16, 0, 3, 1536, 768, 0) * 1e6,\n"
                                     "           qbd_host_predict(QBD_HOST_W4A16, 0, 3, 1536, 768, 128) * 1e6,\n"
                                     "           qbd_host_predict(QBD_HOST_FP16, 0, 300, 1536, 768, 0) * 1e6,\n"
                                     "           qbd_host_predict(QBD_HOST_W4A16, 0, 300, 1536, 768, 128) * 1e6);\n"
                                     "    return 0;\n");
    double h[4];
    assert_int_equal(sscanf(got, "%lf %lf %lf %lf", &h[0], &h[1], &h[2], &h[3]), 4);
    free(got);
    /* qbench predict on the sweep's profile (it names itself host; on the path it comes first) */
    const char *was = getenv("QBENCH_PROFILE_PATH");
    char *keep = was ? strdup(was) : NULL;
    setenv("QBENCH_PROFILE_PATH", dir, 1);
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"predict", "--device", "host", "-m", i ? "300" : "3", "-n", "1536", "-k", "768", NULL};
        assert_int_equal(tu_run(qbench, args, &out, &err), 0);
        double p16 = 0, p4 = 0;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            if (!strncmp(line, "fp16 ", 5))
                sscanf(line + 5, "%lf", &p16);
            if (!strncmp(line, "w4a16 ", 6))
                sscanf(line + 6, "%lf", &p4);
            if (!strncmp(line, "fp16 ", 5) || !strncmp(line, "w4a16 ", 6))
                assert_non_null(strstr(line, " fit "));
        }
        print_message("M=%s: header fp16 %.2f us, w4a16 %.2f us; qbench predict %.2f, %.2f\n", i ? "300" : "3",
                      h[2 * i], h[2 * i + 1], p16, p4);
        assert_true(p16 > 0 && p4 > 0);
        assert_true(fabs(h[2 * i] - p16) <= 0.011 && fabs(h[2 * i + 1] - p4) <= 0.011);
        free(out), free(err);
    }
    if (keep)
        setenv("QBENCH_PROFILE_PATH", keep, 1);
    else
        unsetenv("QBENCH_PROFILE_PATH");
    free(keep);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A close race the sweep recorded decides its cell in the tune report and in the header's
 * best_scheme, over the medians: on the golden results w4a8 is the fastest at 512x1024 M=16
 * (89.8 us against w8a8's 106.6); raced side by side at 0.90 of w4a8's time, w8a8 wins, and at
 * 0.99 the two tie (the more accurate, w8a8, first). */
static void test_races_decide_the_header(void **state)
{
    (void)state;
    char dir[] = "/tmp/qbench-race-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *w8 = "w8a8/f16/m16/n512/k1024/w8a8.avx512vnni/threads=2,mr=4,kc=512,nc=64",
               *w4 = "w4a8/g128/sym/f16/m16/n512/k1024/w4a8.avx512vnni/threads=2,mr=4,kc=512,nc=64";
    const double ratio[2][3] = {{0.88, 0.90, 0.92}, {0.97, 0.99, 1.01}};
    const char *want[3] = {"4 0 -1", "3 0 -1", "3 1 4"}; /* QBD_HOST_W8A8 = 3, QBD_HOST_W4A8 = 4 */
    for (int i = -1; i < 2; i++) {
        json_t *doc = json_load_file("tests/golden/results.json", 0, NULL);
        assert_non_null(doc);
        if (i >= 0)
            json_object_set_new(doc, "verification",
                                json_pack("[{s:s, s:s, s:s, s:i, s:f, s:f, s:f, s:b}]", "winner", w8, "baseline", w4,
                                          "kind", "race", "pairs", 10, "ratio_lo", ratio[i][0], "ratio", ratio[i][1],
                                          "ratio_hi", ratio[i][2], "keep", 1));
        char res[300], hdr[300];
        snprintf(res, sizeof res, "%s/results.json", dir);
        snprintf(hdr, sizeof hdr, "%s/qbench_dispatch_host.h", dir);
        assert_int_equal(json_dump_file(doc, res, JSON_INDENT(1)), 0);
        json_decref(doc);
        char *out, *err;
        assert_int_equal(tu_run(qbench, (const char *[]){"emit", res, "--format", "header", "-o", hdr, NULL}, &out, &err),
                         0);
        free(out), free(err);
        char *got = run_with_header(dir, "    qbd_host_choice c;\n"
                                         "    if (!qbd_host_best_scheme(~0u, 0, 16, 512, 1024, 128, &c))\n"
                                         "        return 1;\n"
                                         "    printf(\"%d %d %d\\n\", c.scheme, c.tie, c.tied_with);\n"
                                         "    return 0;\n");
        const char *w = want[i + 1];
        if (strncmp(got, w, strlen(w)))
            print_error("race %d: best_scheme said '%s', wanted '%s'\n", i, got, w);
        assert_memory_equal(got, w, strlen(w));
        free(got);
        /* the JSON table's cells say the same, and what decided them */
        char js[300];
        snprintf(js, sizeof js, "%s/qbench_dispatch_host.json", dir);
        assert_int_equal(tu_run(qbench, (const char *[]){"emit", res, "--format", "json", "-o", js, NULL}, &out, &err),
                         0);
        free(out), free(err);
        json_t *tab = json_load_file(js, 0, NULL), *cell = NULL, *e;
        size_t at;
        json_array_foreach(json_object_get(tab, "cells"), at, e)
        {
            if (json_integer_value(json_object_get(e, "n")) == 512 && json_integer_value(json_object_get(e, "k")) == 1024 &&
                json_integer_value(json_object_get(e, "m_lo")) < 16 && json_integer_value(json_object_get(e, "m_hi")) >= 16 &&
                json_integer_value(json_object_get(e, "group")) == 128)
                cell = e;
        }
        assert_non_null(cell);
        assert_string_equal(json_string_value(json_object_get(cell, "scheme")), i < 0 ? "w4a8" : "w8a8");
        assert_int_equal(json_is_true(json_object_get(cell, "tie")), i == 1);
        assert_string_equal(json_string_value(json_object_get(cell, "decided_by")), i < 0 ? "medians" : "race");
        if (i >= 0)
            assert_true(fabs(json_real_value(json_object_get(json_object_get(cell, "race"), "ratio")) - ratio[i][1]) < 1e-9);
        json_decref(tab);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static int have_nvidia_driver(void) { return access("/proc/driver/nvidia/version", F_OK) == 0; }

static void test_probe_refuses_absent_device(void **state)
{
    (void)state;
    if (have_nvidia_driver())
        skip();
    expect_rc((const char *[]){"probe", "--device", "h100", NULL}, 2,
              "cannot probe --device h100: profile h100-sxm5-80gb describes a CUDA device named \"*H100*HBM3*\"");
}

static void test_probe_host_writes_valid_profile(void **state)
{
    (void)state;
    char *path = tu_write_temp("", 0, ".yaml");
    const char *args[] = {"probe", "--device", "host", "--quick", "-o", path, NULL};
    char *out, *err;
    assert_int_equal(tu_run(qbench, args, &out, &err), 0);
    free(out);
    free(err);
    const char *vargs[] = {"profile", "validate", path, NULL};
    assert_int_equal(tu_run(qbench, vargs, &out, &err), 0);
    free(out);
    free(err);
    char *y = tu_slurp(path);
    assert_non_null(strstr(y, "name: host\n"));
    assert_non_null(strstr(y, "measured:\n  date: "));
    assert_non_null(strstr(y, "qbench_version: \"" QBENCH_VERSION "\""));
    free(y);
    /* a directory that does not exist: clear error, nothing written */
    const char *bad[] = {"probe", "-o", "/nonexistent-dir/host.yaml", NULL};
    assert_int_equal(tu_run(qbench, bad, &out, &err), 2);
    assert_non_null(strstr(err, "/nonexistent-dir/host.yaml: cannot create a file there"));
    free(out);
    free(err);
    unlink(path);
    free(path);
}

/* The first value of a "key : value" line in /proc/cpuinfo. */
static char *cpuinfo(const char *key)
{
    char *all = tu_slurp("/proc/cpuinfo");
    char *p = all ? strstr(all, key) : NULL;
    char *v = NULL;
    if (p && (p = strchr(p, ':'))) {
        p += 2;
        size_t n = strcspn(p, "\n");
        v = strndup(p, n);
    }
    free(all);
    return v;
}

/* Library kernels (oneDNN) are rows like any other: a sweep measures them beside qbench's own
 * and reports ours against them; where the library cannot be loaded they are "unavailable",
 * with the reason, and a sweep runs without them. */
static void test_library_kernels(void **state)
{
    (void)state;
    ensure_host_profile();
    const qk_kernel *lib = qk_kernel_find("w8a8.onednn");
    char *out, *err;
    const char *kernels[] = {"kernels", NULL};
    if (!lib) { /* built without oneDNN: no such row at all */
        assert_int_equal(tu_run(qbench, kernels, &out, &err), 0);
        assert_null(strstr(out, "onednn"));
        free(out), free(err);
        print_message("built without oneDNN: its rows are absent\n");
        return;
    }
    char dir[] = "/tmp/qbench-lib-XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* w4a16 in two groups: two tables of the shape, and w8a8's library row under the first only */
    const char *sweep[] = {"sweep", "--schemes", "w8a8,w4a16", "--group", "64,128", "--shapes", "256x512", "--batch",
                           "1,16", "--min-time", "0.01", "--repetitions", "2", "-o", dir, NULL};
    char path[300];
    snprintf(path, sizeof path, "%s/results.json", dir);
    if (qk_kernel_supported(lib)) {
        assert_int_equal(tu_run(qbench, sweep, &out, &err), 0);
        const char *table = strstr(out, "ours / best library");
        assert_non_null(table);
        assert_non_null(strstr(out, "256x512 g64:"));
        assert_non_null(strstr(out, "256x512 g128:"));
        assert_null(strstr(table + 1, "ours / best library"));
        json_t *doc = json_load_file(path, 0, NULL), *it;
        size_t i;
        int ok = 0;
        double t[2][2] = {{0}}; /* [M = 1, 16][ours, oneDNN]: the fastest median */
        json_array_foreach(json_object_get(doc, "benchmarks"), i, it)
        {
            if (strcmp(json_string_value(json_object_get(it, "scheme")), "w8a8"))
                continue;
            const int mine = strcmp(json_string_value(json_object_get(it, "kernel")), "w8a8.onednn") != 0,
                      good = !strcmp(json_string_value(json_object_get(it, "status")), "ok");
            double *slot = &t[json_integer_value(json_object_get(it, "m")) == 16][!mine],
                   v = json_real_value(json_object_get(it, "time_median_s"));
            if (good && v > 0 && (!*slot || v < *slot))
                *slot = v;
            ok += !mine && good && json_real_value(json_object_get(it, "kernel_error")) <= 1e-3;
        }
        assert_true(ok >= 2); /* both M, checked against the fp64 reference and timed */
        json_decref(doc);
        /* ours ÷ the library from the two timed again side by side (marked *), wherever they were
         * within 2x of each other (not under the sanitizers, which slow our kernels alone) */
        int close = 0, marked = 0;
        for (int m = 0; m < 2; m++)
            close += t[m][0] > 0 && t[m][1] > 0 && fmax(t[m][0], t[m][1]) <= 2 * fmin(t[m][0], t[m][1]);
        for (const char *at = strstr(out, "ours / best library"); (at = strstr(at, "x*\n")); at++)
            marked++;
        print_message("ours against oneDNN within 2x at %d of 2 M, raced there: %d\n", close, marked);
        assert_int_equal(marked, close);
        if (close)
            assert_true(strstr(err, "w8a8.avx512vnni ÷ w8a8.onednn") || strstr(err, "w8a8.onednn ÷ w8a8.avx512vnni"));
        free(out), free(err);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s/*", dir);
        assert_int_equal(system(cmd), 0);
    }
    /* a library that cannot be loaded: unavailable, with the reason; never a crash */
    setenv("QBENCH_ONEDNN_LIB", "/nonexistent/libdnnl.so.2", 1);
    assert_int_equal(tu_run(qbench, kernels, &out, &err), 0);
    assert_non_null(strstr(out, "not here: w8a8.onednn"));
    assert_non_null(strstr(out, "unavailable: /nonexistent/libdnnl.so.2 could not be loaded"));
    free(out), free(err);
    const char *run[] = {"run", "--scheme", "w8a8", "--kernel", "w8a8.onednn", "-n", "64", "-k", "64", NULL};
    assert_int_equal(tu_run(qbench, run, &out, &err), 2);
    assert_non_null(strstr(err, "unavailable"));
    free(out), free(err);
    assert_int_equal(tu_run(qbench, sweep, &out, &err), 0);
    assert_null(strstr(out, "ours / best library"));
    free(out), free(err);
    char *text = tu_slurp(path);
    assert_non_null(text);
    assert_null(strstr(text, "w8a8.onednn"));
    free(text);
    unsetenv("QBENCH_ONEDNN_LIB");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* --cache warm: one copy, left in the caches, recorded and named as such; a results file keeps
 * one cache mode; the noise rounds are recorded. */
static void test_cache_and_noise(void **state)
{
    (void)state;
    ensure_host_profile();
    expect_rc((const char *[]){"run", "--scheme", "fp16", "--cache", "hot", NULL}, 2, "--cache 'hot': use warm or cold");
    expect_rc((const char *[]){"sweep", "--max-cv", "0", NULL}, 2, "--max-cv");
    expect_rc((const char *[]){"run", "--scheme", "fp16", "--budget", "-1", NULL}, 2, "--budget");
    char *out, *err;
    const char *run[] = {"run", "--scheme", "w8a16", "-n", "512", "-k", "1024", "--cache", "warm", "--min-time", "0.05",
                         "--max-cv", "50", "--json", NULL};
    assert_int_equal(tu_run(qbench, run, &out, &err), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_t *wj = json_object_get(j, "weights"), *tj = json_object_get(j, "time");
    assert_int_equal(json_integer_value(json_object_get(wj, "copies")), 1);
    assert_string_equal(json_string_value(json_object_get(wj, "cache_mode")), "warm");
    /* rounds are repeated while the cv is above --max-cv; "noisy" says the last one still was
     * (how many rounds this VM needs is its own noise, not the code's) */
    assert_true(json_integer_value(json_object_get(tj, "rounds")) >= 1);
    assert_int_equal(json_is_true(json_object_get(tj, "noisy")), json_real_value(json_object_get(tj, "cv")) > 0.5);
    json_decref(j);
    free(out), free(err);
    char dir[] = "/tmp/qbench-warm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *sweep[] = {"sweep", "--schemes", "fp16", "--shapes", "256x512", "--batch", "1,2", "--min-time", "0.01",
                           "--repetitions", "2", "--cache", "warm", "-o", dir, NULL};
    assert_int_equal(tu_run(qbench, sweep, &out, &err), 0);
    free(out), free(err);
    char path[300];
    snprintf(path, sizeof path, "%s/results.json", dir);
    json_t *doc = json_load_file(path, 0, NULL), *it;
    size_t i;
    int warm = 0;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, it)
        warm += strstr(json_string_value(json_object_get(it, "point")), "/warm/") &&
                !strcmp(json_string_value(json_object_get(it, "cache")), "warm") &&
                json_integer_value(json_object_get(it, "timing_rounds")) >= 1;
    assert_true(warm >= 2);
    json_decref(doc);
    /* resuming it cold would mix the modes: refused */
    const char *resume[] = {"sweep", "--schemes", "fp16", "--shapes", "256x512", "--batch", "1,2,4", "--resume", path,
                            NULL};
    expect_rc(resume, 2, "resume with --cache warm");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_devices_matches_kernel_view(void **state)
{
    (void)state;
    const char *args[] = {"devices", NULL};
    char *out, *err;
    assert_int_equal(tu_run(qbench, args, &out, &err), 0);
    print_message("%s", out);
    char *model = cpuinfo("model name");
    assert_non_null(model);
    char want[320];
    snprintf(want, sizeof want, "host  cpu   %s\n", model);
    assert_non_null(strstr(out, want));
    /* every data/unified cache level of cpu0 as the kernel reports it, size for size */
    int level;
    long kib;
    char type[32];
    for (int idx = 0; tu_cpu0_cache(idx, &level, type, sizeof type, &kib); idx++)
        if (strcmp(type, "Instruction") != 0) {
            char line[64], sz[32];
            if (kib % 1024 == 0)
                snprintf(sz, sizeof sz, "%ld MiB x", kib / 1024);
            else
                snprintf(sz, sizeof sz, "%ld KiB x", kib);
            snprintf(line, sizeof line, "  L%d%s", level, strcmp(type, "Data") == 0 ? "d:" : ":");
            char *at = strstr(out, line);
            assert_non_null(at);
            char *eol = strchr(at, '\n');
            *eol = '\0';
            if (!strstr(at, sz))
                print_error("cache line '%s' lacks '%s'\n", at, sz);
            assert_non_null(strstr(at, sz));
            *eol = '\n';
        }
    assert_non_null(strstr(out, "  counters: PAPI"));
    assert_non_null(strstr(out, "perf::TASK-CLOCK   available"));
    if (!have_nvidia_driver())
        assert_non_null(strstr(out, "\ncuda  none  no CUDA device: "));
    free(model);
    free(out);
    free(err);
}

int main(int argc, char **argv)
{
    if (argc != 2 && !(argc == 4 && (!strcmp(argv[2], "--only") || !strcmp(argv[2], "--skip")))) {
        fprintf(stderr, "usage: test_cli PATH-TO-QBENCH [--only|--skip TEST-PATTERN]\n");
        return 2;
    }
    qbench = argv[1];
    if (argc == 4) /* ctest runs the timing-sensitive test alone (tests/CMakeLists.txt) */
        (!strcmp(argv[2], "--only") ? cmocka_set_test_filter : cmocka_set_skip_filter)(argv[3]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_profile_validates),
        cmocka_unit_test(test_library_kernels),
        cmocka_unit_test(test_header_model_equals_predict), cmocka_unit_test(test_races_decide_the_header),
        cmocka_unit_test(test_cache_and_noise),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_missing_required_key),
        cmocka_unit_test(test_nonpositive_peak),
        cmocka_unit_test(test_unsupported_schema),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_not_yaml),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_binary_garbage),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_shipped_profiles_validate),
        cmocka_unit_test(test_bad_command_line),
        cmocka_unit_test(test_probe_refuses_absent_device),
        cmocka_unit_test(test_probe_host_writes_valid_profile),
        cmocka_unit_test(test_devices_matches_kernel_view),
        cmocka_unit_test(test_run_bad_arguments),
        cmocka_unit_test(test_run_checks_and_times),
        cmocka_unit_test(test_run_is_a_one_point_sweep),
        cmocka_unit_test(test_sweep_predict_and_refusal),
        cmocka_unit_test(test_sweep_interrupt_and_resume),
        cmocka_unit_test(test_fit_tune_emit_plot),
        cmocka_unit_test(test_fit_keeps_probed_ceilings),
        cmocka_unit_test(test_tuner_bad_inputs),
        cmocka_unit_test(test_predict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
