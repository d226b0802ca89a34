/* qbench as a hostile user and an exacting reviewer try it: outputs that are devices, FIFOs,
 * links or read-only files; names that try to reach a shell or C source; two sweeps into one
 * folder; signals; inputs too large, too deep or impossible; numbers that overflow. Each case
 * is a reproducer of a bug that was found, run through the binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/testutil.h"

static const char *qbench;
static char dir[64]; /* this run's scratch folder */

static char *scratch(const char *name)
{
    char *p = malloc(512);
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* Runs qbench; returns its exit status, its stderr in *err (free it) unless err is NULL. */
static int run(const char *const *args, char **err)
{
    char *out, *e;
    int rc = tu_run(qbench, args, &out, &e);
    free(out);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

static void expect(const char *const *args, int want_rc, const char *want)
{
    char *out, *err;
    int rc = tu_run(qbench, args, &out, &err);
    free(out);
    if (rc != want_rc || !strstr(err, want))
        print_error("rc %d (want %d), stderr: %s\nwanted: %s\n", rc, want_rc, err, want);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(err, want));
    free(err);
}

/* A copy of the golden results, changed by `edit` (may be NULL). */
static char *golden(const char *name, void (*edit)(json_t *doc))
{
    json_t *doc = json_load_file("tests/golden/results.json", 0, NULL);
    assert_non_null(doc);
    if (edit)
        edit(doc);
    char *path = scratch(name);
    assert_int_equal(json_dump_file(doc, path, JSON_INDENT(1)), 0);
    json_decref(doc);
    return path;
}

static json_t *entry(json_t *doc, size_t i) { return json_array_get(json_object_get(doc, "benchmarks"), i); }

/* ---- outputs: devices are written in place, links followed, modes kept ---- */

static void test_output_targets(void **state)
{
    (void)state;
    char *res = golden("r.json", NULL), *err;
    struct stat st;
    /* a device stays a device */
    assert_int_equal(run((const char *[]){"emit", res, "--format", "header", "-o", "/dev/null", NULL}, NULL), 0);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    /* a FIFO is written into, and stays a FIFO */
    char *fifo = scratch("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    assert_int_equal(run((const char *[]){"emit", res, "--format", "json", "-o", fifo, NULL}, NULL), 0);
    char buf[256];
    assert_true(read(rd, buf, sizeof buf) > 0);
    assert_non_null(memchr(buf, '{', sizeof buf));
    close(rd);
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    /* a link is followed: the file it names is replaced, the link stays; a dangling one too */
    char *real = scratch("real.h"), *link = scratch("link.h"), *dangling = scratch("dangling.h"),
         *later = scratch("later.h");
    FILE *f = fopen(real, "w");
    fputs("old", f);
    fclose(f);
    assert_int_equal(chmod(real, 0600), 0);
    assert_int_equal(symlink("real.h", link), 0);
    assert_int_equal(symlink("later.h", dangling), 0);
    assert_int_equal(run((const char *[]){"emit", res, "--format", "header", "-o", link, NULL}, NULL), 0);
    assert_int_equal(run((const char *[]){"emit", res, "--format", "header", "-o", dangling, NULL}, NULL), 0);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(dangling, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *text = tu_slurp(real);
    assert_non_null(strstr(text, "#ifndef QBENCH_DISPATCH_HOST_H"));
    free(text);
    text = tu_slurp(later);
    assert_non_null(text);
    assert_non_null(strstr(text, "#ifndef QBENCH_DISPATCH_HOST_H"));
    free(text);
    /* the replaced file keeps its mode */
    assert_int_equal(stat(real, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a folder is refused; a full device fails with the reason, standard output too */
    expect((const char *[]){"emit", res, "--format", "header", "-o", dir, NULL}, 2, "is a directory");
    expect((const char *[]){"emit", res, "--format", "json", "-o", "/dev/full", NULL}, 1,
           "/dev/full: write failed: No space left on device");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' kernels > /dev/full 2>%s/e.txt", qbench, dir);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    snprintf(cmd, sizeof cmd, "%s/e.txt", dir);
    err = tu_slurp(cmd);
    assert_non_null(strstr(err, "standard output: write failed"));
    free(err);
    free(res), free(fifo), free(real), free(link), free(dangling), free(later);
}

/* A full disk: the pictures fail with the reason; no empty picture or temporary file is left. */
static void test_full_disk(void **state)
{
    (void)state;
    char *fs = scratch("tiny"), cmd[600];
    mkdir(fs, 0755);
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=48k tmpfs '%s' 2>/dev/null", fs);
    if (geteuid() != 0 || system(cmd) != 0) {
        print_message("cannot mount a small tmpfs here (needs root): the full-disk case is skipped\n");
        free(fs);
        skip();
    }
    char *res = golden("r3.json", NULL), *err;
    int rc = run((const char *[]){"plot", res, "-o", fs, NULL}, &err);
    print_message("plot on a 48 KiB file system: exit %d: %s", rc, err);
    assert_int_equal(rc, 1);
    assert_true(strstr(err, "No space left on device") || strstr(err, "empty picture"));
    free(err);
    rc = run((const char *[]){"emit", res, "--format", "json", "-o", "/dev/null", NULL}, NULL);
    assert_int_equal(rc, 0);
    /* whatever is there is whole: no empty picture, no temporary file */
    snprintf(cmd, sizeof cmd, "find '%s' -type f \\( -empty -o -name '.*tmp-*' \\) | wc -l", fs);
    FILE *p = popen(cmd, "r");
    int left = -1;
    assert_int_equal(fscanf(p, "%d", &left), 1);
    pclose(p);
    assert_int_equal(left, 0);
    snprintf(cmd, sizeof cmd, "umount '%s'", fs);
    assert_int_equal(system(cmd), 0);
    free(res), free(fs);
}

/* ---- no shell, no injected code ---- */

static void hostile_ceiling(json_t *doc)
{
    json_t *bw = json_object_get(json_object_get(json_object_get(json_object_get(doc, "context"), "qbench"), "ceilings"),
                                 "bandwidth");
    json_array_append_new(bw, json_pack("{s:s, s:f}", "level", "x' . system('touch PWNED2') . '`touch PWNED3`\ny",
                                        "gbs", 10.0));
}

static void hostile_profile(json_t *doc)
{
    json_object_set_new(json_object_get(json_object_get(doc, "context"), "qbench"), "profile",
                        json_string("a*/\n#error injected\n/*"));
}

static void test_no_shell_no_injection(void **state)
{
    (void)state;
    char *res = golden("hostile.json", hostile_ceiling), out[512];
    snprintf(out, sizeof out, "%s/x';touch PWNED;'y", dir);
    unlink("PWNED"), unlink("PWNED2"), unlink("PWNED3");
    int rc = run((const char *[]){"plot", res, "-o", out, NULL}, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(access("PWNED", F_OK), -1);
    assert_int_equal(access("PWNED2", F_OK), -1);
    assert_int_equal(access("PWNED3", F_OK), -1);
    char png[600];
    snprintf(png, sizeof png, "%s/roofline.png", out);
    assert_int_equal(access(png, F_OK), 0);
    free(res);
    /* a device name that would close the header's comment is not a profile name */
    res = golden("inject.json", hostile_profile);
    expect((const char *[]){"emit", res, "--format", "header", "-o", "/dev/null", NULL}, 2,
           "context.qbench.profile is not a profile name");
    free(res);
}

/* ---- one sweep per folder; signals; what an interrupted run leaves ---- */

static void test_lock_signals_and_stale_files(void **state)
{
    (void)state;
    char *out = scratch("sweep"), *o = scratch("o.txt"), *e = scratch("e.txt");
    const char *args[] = {"sweep", "--device", "h100", "--predict", "--schemes", "fp16,w4a16", "--shapes", "64x64",
                          "--batch", "1:1024", "-o", out, NULL};
    /* a measured sweep that runs long enough to be caught in the act */
    const char *slow[] = {"sweep", "--schemes", "fp16", "--shapes", "512x512", "--batch", "1:256", "--min-time",
                          "0.2", "--repetitions", "3", "-o", out, NULL};
    int pid = tu_start(qbench, slow, o, e);
    char lockp[600], results[600];
    snprintf(lockp, sizeof lockp, "%s/.qbench.lock", out);
    snprintf(results, sizeof results, "%s/results.json", out);
    for (int i = 0; i < 2400 && access(results, F_OK); i++) /* its probe first: up to 2 min under ASan */
        usleep(50000);
    assert_int_equal(access(results, F_OK), 0);
    /* a second sweep into the same folder is refused, naming the first */
    char want[128];
    snprintf(want, sizeof want, "is being written by another qbench (pid %d", pid);
    expect(args, 2, want);
    /* SIGTERM stops it like Ctrl-C: after the current point, everything finished written */
    kill(pid, SIGTERM);
    assert_int_equal(tu_wait(pid), 143);
    char *err = tu_slurp(e);
    assert_non_null(strstr(err, "interrupted: SIGTERM"));
    assert_non_null(strstr(err, "--resume"));
    free(err);
    /* a temporary file of a killed run is removed by the next one */
    char stale[700];
    snprintf(stale, sizeof stale, "%s/.results.json.tmp-Ab12Cd", out);
    FILE *f = fopen(stale, "w");
    fputs("{\"trunc", f);
    fclose(f);
    const char *resume[] = {"sweep", "--schemes", "fp16", "--shapes", "512x512", "--batch", "1:256", "--min-time",
                            "0.01", "--repetitions", "2", "--resume", results, NULL};
    char *e2;
    assert_int_equal(run(resume, &e2), 0);
    assert_non_null(strstr(e2, "left by an interrupted run"));
    assert_int_equal(access(stale, F_OK), -1);
    free(e2);
    /* a resume of results from another host is refused */
    json_t *doc = json_load_file(results, 0, NULL);
    json_object_set_new(json_object_get(doc, "context"), "host_name", json_string("elsewhere"));
    json_dump_file(doc, results, JSON_INDENT(1));
    json_decref(doc);
    expect(resume, 2, "these results were measured on host elsewhere");
    /* a missing file to resume is said at once, before any probing */
    const char *missing[] = {"sweep", "--resume", "/nonexistent/r.json", NULL};
    expect(missing, 2, "/nonexistent/r.json: cannot open");
    free(out), free(o), free(e);
}

/* ---- inputs: size, depth, YAML tags and aliases, FIFOs ---- */

static void test_input_limits(void **state)
{
    (void)state;
    char *deep = scratch("deep.yaml");
    FILE *f = fopen(deep, "w");
    fputs("qbench_profile: ", f);
    for (int i = 0; i < 500000; i++)
        fputc('[', f);
    fclose(f);
    double t0 = (double)clock();
    expect((const char *[]){"profile", "validate", deep, NULL}, 2, "nested more than 16 levels deep");
    print_message("500 KB of '[' refused in %.2f s of CPU\n", ((double)clock() - t0) / CLOCKS_PER_SEC);
    expect((const char *[]){"profile", "validate", "/dev/zero", NULL}, 2, "larger than 1 MiB");
    char *tag = scratch("tag.yaml"), *alias = scratch("alias.yaml"), *big = scratch("threads.yaml");
    f = fopen(tag, "w");
    fputs("qbench_profile: 1\nname: !!str 2039\n", f);
    fclose(f);
    expect((const char *[]){"profile", "validate", tag, NULL}, 2, "a YAML tag");
    f = fopen(alias, "w");
    fputs("qbench_profile: 1\nname: &n x\nvendor: *n\n", f);
    fclose(f);
    expect((const char *[]){"profile", "validate", alias, NULL}, 2, "anchors and aliases");
    f = fopen(big, "w");
    fputs("qbench_profile: 1\nname: x\nvendor: v\nmatch: {backend: cpu, name: x}\nspec: {}\nmeasured:\n  date: d\n"
          "  host: h\n  qbench_version: v\n  device: d\n  threads: 1e20\n", f);
    fclose(f);
    expect((const char *[]){"profile", "validate", big, NULL}, 2, "measured.threads must be a whole number");
    /* a results file over the limit, and one read through a FIFO (read once: no hang) */
    char *res = golden("r2.json", NULL);
    setenv("QBENCH_RESULTS_MAX_MB", "1", 1);
    char *pad = scratch("big.json");
    char *text = tu_slurp(res);
    f = fopen(pad, "w");
    fputs(text, f);
    for (int i = 0; i < (1 << 20) / 64 + 1; i++)
        fputs("                                                               \n", f);
    fclose(f);
    expect((const char *[]){"tune", pad, NULL}, 2, "larger than 1 MiB");
    unsetenv("QBENCH_RESULTS_MAX_MB");
    char *fifo = scratch("results.fifo"), cmd[700];
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(cmd, sizeof cmd, "cat '%s' > '%s'", res, fifo);
    int pid = tu_start("/bin/sh", (const char *[]){"-c", cmd, NULL}, "/dev/null", "/dev/null");
    assert_int_equal(run((const char *[]){"tune", fifo, NULL}, NULL), 0);
    assert_int_equal(tu_wait(pid), 0);
    free(text), free(deep), free(tag), free(alias), free(big), free(res), free(pad), free(fifo);
}

/* ---- numbers: strict, never wrapped ---- */

static void test_numbers(void **state)
{
    (void)state;
    expect((const char *[]){"sweep", "--group", "3", NULL}, 2, "group 3: use -1 (per channel) or a multiple of 8");
    expect((const char *[]){"sweep", "--group", "0", NULL}, 2, "group 0: use -1");
    expect((const char *[]){"predict", "--device", "h100", "-m", "12abc", "-n", "64", "-k", "64", NULL}, 2,
           "-m '12abc': expected a whole number");
    expect((const char *[]){"predict", "--device", "h100", "-m", "99999999999", "-n", "64", "-k", "64", NULL}, 2,
           "-m '99999999999': expected a whole number");
    expect((const char *[]){"sweep", "--shapes", "4294967360x64", NULL}, 2, "N and K are whole numbers");
    expect((const char *[]){"run", "--scheme", "fp16", "--config", "kc=99999999999", NULL}, 2,
           "--config 'kc=99999999999': the value is not a whole number");
    expect((const char *[]){"sweep", "--min-time", "", NULL}, 2, "--min-time '': expected a number");
    char *cc = scratch("cc.yaml");
    FILE *f = fopen(cc, "w");
    fputs("qbench_profile: 1\nname: x\nvendor: v\nmatch: {backend: cuda, name: x, compute_capability: "
          "\"99999999999.9\"}\nspec: {}\n", f);
    fclose(f);
    expect((const char *[]){"profile", "validate", cc, NULL}, 2, "match.compute_capability must be MAJOR.MINOR");
    free(cc);
    /* a range whose step passes its end: its first value, and no overflow */
    char *out = scratch("range"), *err;
    const char *args[] = {"sweep", "--device", "h100", "--predict", "--schemes", "fp16", "--shapes", "64x64",
                          "--batch", "1:256:9223372036854775807", "-o", out, NULL};
    char *o2;
    assert_int_equal(tu_run(qbench, args, &o2, &err), 0);
    assert_non_null(strstr(o2, "1 point run now"));
    free(o2), free(err), free(out);
}

/* ---- results: checked for meaning, not only for shape ---- */

/* a second entry of the first point: with another M and ten times the time; with ten times the time */
static void repeat(json_t *doc, int other_m)
{
    json_t *e = json_deep_copy(entry(doc, 0));
    if (other_m)
        json_object_set_new(e, "m", json_integer(json_integer_value(json_object_get(e, "m")) + 1));
    json_object_set_new(e, "time_median_s", json_real(10 * json_real_value(json_object_get(e, "time_median_s"))));
    json_array_insert_new(json_object_get(doc, "benchmarks"), 1, e);
}
static void repeat_with_other_m(json_t *doc) { repeat(doc, 1); }
static void repeat_with_other_time(json_t *doc) { repeat(doc, 0); }
static void unknown_kernel(json_t *doc) { json_object_set_new(entry(doc, 0), "kernel", json_string("w4a16.tpu")); }
static void long_config(json_t *doc)
{
    char c[300];
    memset(c, 'a', sizeof c - 1);
    c[sizeof c - 1] = '\0';
    json_object_set_new(entry(doc, 0), "config", json_string(c));
}
static void group3(json_t *doc)
{
    json_t *l = json_object_get(doc, "benchmarks");
    for (size_t i = 0; i < json_array_size(l); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(l, i), "scheme")), "w4a16")) {
            json_object_set_new(json_array_get(l, i), "group", json_integer(3));
            break;
        }
}
static void k7(json_t *doc)
{
    json_t *l = json_object_get(doc, "benchmarks");
    for (size_t i = 0; i < json_array_size(l); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(l, i), "scheme")), "w4a16")) {
            json_object_set_new(json_array_get(l, i), "k", json_integer(7));
            break;
        }
}

static void test_results_meaning(void **state)
{
    (void)state;
    static const struct {
        void (*edit)(json_t *);
        const char *want;
    } cases[] = {
        {repeat_with_other_m, "but its fields make fp16/f16/m2/"},
        {repeat_with_other_time, "disagrees with its first entry"},
        {unknown_kernel, "kernel 'w4a16.tpu' is not one of this qbench's"},
        {long_config, "'config' is 299 characters long; qbench's limit is 127"},
        {group3, "group 3: use -1 (per channel) or a multiple of 8"},
        {k7, "K=7 is not a multiple of the group size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *res = golden("bad.json", cases[i].edit);
        expect((const char *[]){"tune", res, NULL}, 2, cases[i].want);
        expect((const char *[]){"fit", res, NULL}, 2, cases[i].want);
        expect((const char *[]){"emit", res, "--format", "header", "-o", "/dev/null", NULL}, 2, cases[i].want);
        free(res);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/qbench-hard-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_hardening QBENCH\n");
        return 2;
    }
    qbench = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_targets),  cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_no_shell_no_injection),
        cmocka_unit_test(test_lock_signals_and_stale_files), cmocka_unit_test(test_input_limits),
        cmocka_unit_test(test_numbers),         cmocka_unit_test(test_results_meaning),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
