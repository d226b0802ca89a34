/* Profiles in-process: round trips of every shipped profile, deterministic output, matching,
 * the search path (shadowing, invalid files), --device resolution, and error collection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hardware/hardware.h"
#include "profiles/profile.h"
#include "tests/testutil.h"

static const char *const shipped[] = {"profiles/a100-sxm4-80gb.yaml", "profiles/h100-sxm5-80gb.yaml",
                                      "profiles/h200-sxm.yaml", "profiles/l40s.yaml", "profiles/rtx-4090.yaml"};

static int streq(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static void assert_same(const qp_profile *a, const qp_profile *b)
{
    assert_int_equal(a->schema, b->schema);
    assert_true(streq(a->name, b->name));
    assert_true(streq(a->vendor, b->vendor));
    assert_true(streq(a->notes, b->notes));
    assert_int_equal(a->n_aliases, b->n_aliases);
    for (int i = 0; i < a->n_aliases; i++)
        assert_string_equal(a->aliases[i], b->aliases[i]);
    assert_int_equal(a->match.backend, b->match.backend);
    assert_true(streq(a->match.name, b->match.name));
    assert_int_equal(a->match.cc_major, b->match.cc_major);
    assert_int_equal(a->match.cc_minor, b->match.cc_minor);
    for (int i = 0; i < QP_SPEC_COUNT; i++) {
        assert_int_equal(a->spec[i].present, b->spec[i].present);
        assert_true(a->spec[i].value == b->spec[i].value);
        assert_true(streq(a->spec[i].source, b->spec[i].source));
        assert_true(streq(a->spec[i].note, b->spec[i].note));
    }
    assert_int_equal(a->measured.present, b->measured.present);
    assert_true(streq(a->measured.date, b->measured.date));
    assert_true(streq(a->measured.host, b->measured.host));
    assert_true(streq(a->measured.qbench_version, b->measured.qbench_version));
    assert_true(streq(a->measured.device, b->measured.device));
}

static char *emit_to_string(const qp_profile *p)
{
    char *path = tu_write_temp("", 0, ".yaml");
    qc_msgs err = {0};
    assert_int_equal(qp_profile_write(p, path, &err), QC_OK);
    char *s = tu_slurp(path);
    unlink(path);
    free(path);
    return s;
}

static qp_profile *parse_ok(const char *text)
{
    qc_msgs err = {0};
    qp_profile *p;
    int rc = qp_profile_parse(text, strlen(text), "mem", &p, &err);
    if (rc)
        qc_msgs_print(&err, stderr);
    assert_int_equal(rc, QC_OK);
    qc_msgs_free(&err);
    return p;
}

static void test_shipped_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
        qc_msgs err = {0};
        qp_profile *a;
        assert_int_equal(qp_profile_load(shipped[i], &a, &err), QC_OK);
        /* every spec figure carries a source and a positive value */
        int figures = 0;
        for (int k = 0; k < QP_SPEC_COUNT; k++)
            if (a->spec[k].present) {
                figures++;
                assert_true(a->spec[k].value > 0);
                assert_true(strlen(a->spec[k].source) > 0);
            }
        assert_true(figures >= 6);
        assert_true(a->spec[QP_MEMORY_BANDWIDTH_GBS].present && a->spec[QP_FP16_TFLOPS].present &&
                    a->spec[QP_INT8_TOPS].present && a->spec[QP_FP32_TFLOPS].present && a->spec[QP_SMS].present);
        char *y1 = emit_to_string(a);
        qp_profile *b = parse_ok(y1);
        assert_same(a, b);
        char *y2 = emit_to_string(b);
        assert_string_equal(y1, y2); /* deterministic: same input, same bytes */
        free(y1);
        free(y2);
        qp_profile_free(a);
        qp_profile_free(b);
    }
}

static void test_host_profile_round_trip(void **state)
{
    (void)state;
    qh_host h;
    qc_msgs err = {0};
    assert_int_equal(qh_host_discover(&h, &err), QC_OK);
    qp_profile *p = qp_profile_from_host(&h);
    qp_profile_set_measured(p, h.cpu.model);
    assert_true(p->spec[QP_CORES].value == h.cores);
    assert_true(p->spec[QP_THREADS].value == h.threads);
    char *y = emit_to_string(p);
    qp_profile *q = parse_ok(y);
    assert_same(p, q);
    assert_true(qp_profile_matches(q, QP_BACKEND_CPU, h.cpu.model, -1, -1));
    free(y);
    qp_profile_free(p);
    qp_profile_free(q);
}

static void test_matching(void **state)
{
    (void)state;
    qc_msgs err = {0};
    qp_profile *h100, *h200;
    assert_int_equal(qp_profile_load("profiles/h100-sxm5-80gb.yaml", &h100, &err), QC_OK);
    assert_int_equal(qp_profile_load("profiles/h200-sxm.yaml", &h200, &err), QC_OK);
    assert_true(qp_profile_matches(h100, QP_BACKEND_CUDA, "NVIDIA H100 80GB HBM3", 9, 0));
    assert_true(qp_profile_matches(h100, QP_BACKEND_CUDA, "nvidia h100 80gb hbm3", 9, 0)); /* case-insensitive */
    assert_false(qp_profile_matches(h100, QP_BACKEND_CUDA, "NVIDIA H100 PCIe", 9, 0));
    assert_false(qp_profile_matches(h100, QP_BACKEND_CUDA, "NVIDIA H100 80GB HBM3", 8, 0));
    assert_false(qp_profile_matches(h100, QP_BACKEND_CPU, "NVIDIA H100 80GB HBM3", -1, -1));
    assert_true(qp_profile_matches(h200, QP_BACKEND_CUDA, "NVIDIA H200", 9, 0));
    assert_false(qp_profile_matches(h200, QP_BACKEND_CUDA, "NVIDIA H200 NVL", 9, 0));
    assert_true(qp_profile_named(h100, "h100") && qp_profile_named(h100, "h100-sxm5-80gb"));
    assert_false(qp_profile_named(h100, "h200"));
    qp_profile_free(h100);
    qp_profile_free(h200);

    /* a device name with pattern characters matches itself only */
    qh_host h;
    memset(&h, 0, sizeof h);
    strcpy(h.cpu.model, "Weird*CPU [x]?");
    strcpy(h.cpu.vendor, "GenuineIntel");
    strcpy(h.hostname, "t");
    h.cores = h.threads = 1;
    qp_profile *w = qp_profile_from_host(&h);
    assert_true(qp_profile_matches(w, QP_BACKEND_CPU, "Weird*CPU [x]?", -1, -1));
    assert_false(qp_profile_matches(w, QP_BACKEND_CPU, "WeirdXCPU x!", -1, -1));
    assert_string_equal(w->vendor, "Intel");
    qp_profile_free(w);
}

static void test_errors_are_collected(void **state)
{
    (void)state;
    const char *text = "qbench_profile: 1\n"
                       "name: x\n"
                       "colour: red\n"
                       "match: {backend: cpu, name: \"*\"}\n"
                       "spec:\n"
                       "  cores: {value: -1, source: s}\n"
                       "  sms: {value: 3}\n";
    qc_msgs err = {0};
    qp_profile *p;
    assert_int_equal(qp_profile_parse(text, strlen(text), "f.yaml", &p, &err), QC_EINPUT);
    assert_null(p);
    assert_int_equal(err.n, 4);
    assert_non_null(strstr(err.v[0], "f.yaml:3: unknown key 'colour'"));
    assert_non_null(strstr(err.v[1], "f.yaml:1: missing required key 'vendor'"));
    assert_non_null(strstr(err.v[2], "f.yaml:6: spec.cores.value is -1"));
    assert_non_null(strstr(err.v[3], "f.yaml:7: missing required key 'source' in spec.sms"));
    qc_msgs_free(&err);
}

/* The fit section: each kernel's model as fit wrote it, read back and written again alike; a
 * share above 1 is refused at its line. */
static void test_fit_section(void **state)
{
    (void)state;
    const char *head = "qbench_profile: 1\nname: x\nvendor: v\nmatch: {backend: cpu, name: \"*\"}\n"
                       "spec:\n  cores: {value: 2, source: s}\n"
                       "fit:\n  date: 2026-11-22T00:00:00Z\n  qbench_version: \"0.1.0\"\n  results: \"0123456789abcdef\"\n"
                       "  t0_s: 1.5e-05\n  models:\n";
    char text[1024];
    snprintf(text, sizeof text, "%s%s", head,
             "  - {kernel: w4a8.avx512vnni, format: int8_dot, threads: 2, mem_eff: 0.9, comp_eff: 0.8, "
             "decode_gws: 300, exposed: 0.25, points: 10, residual: 0.03}\n"
             "  - {kernel: fp16.avx512, format: fp32_fma, threads: 2, mem_eff: 0.85, comp_eff: 0.9, points: 10, "
             "residual: 0.02}\n");
    qp_profile *p = parse_ok(text);
    assert_int_equal(p->fit.n_model, 2);
    assert_true(p->fit.model[0].exposed == 0.25 && p->fit.model[0].decode_gws == 300);
    assert_true(p->fit.model[1].exposed == 0 && p->fit.model[1].decode_gws == 0); /* not given: the max, free */
    char *y = emit_to_string(p);
    qp_profile *q = parse_ok(y);
    assert_int_equal(q->fit.n_model, 2);
    for (int i = 0; i < 2; i++)
        assert_memory_equal(&p->fit.model[i], &q->fit.model[i], sizeof p->fit.model[i]);
    free(y);
    qp_profile_free(p);
    qp_profile_free(q);
    snprintf(text, sizeof text, "%s%s", head,
             "  - {kernel: w4a8.avx512vnni, format: int8_dot, threads: 2, mem_eff: 0.9, comp_eff: 0.8, "
             "exposed: 1.5, points: 10, residual: 0.03}\n");
    qc_msgs err = {0};
    assert_int_equal(qp_profile_parse(text, strlen(text), "f.yaml", &p, &err), QC_EINPUT);
    assert_null(p);
    assert_non_null(strstr(err.v[0], "f.yaml:13: fit.models[0]: an efficiency or the exposed share is a share, at most 1"));
    qc_msgs_free(&err);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_catalog_search_path(void **state)
{
    (void)state;
    char dir[] = "/tmp/qbench-profiles-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/a100-copy.yaml", dir);
    write_file(path, "qbench_profile: 1\nname: a100-sxm4-80gb\nvendor: Shadowed\n"
                     "match: {backend: cuda, name: \"*A100*\"}\nspec: {}\n");
    snprintf(path, sizeof path, "%s/extra.yaml", dir);
    write_file(path, "qbench_profile: 1\nname: zz-extra\nvendor: Test\naliases: [zz]\n"
                     "match: {backend: cpu, name: \"Some CPU\"}\nspec:\n  cores: {value: 8, source: test}\n");
    snprintf(path, sizeof path, "%s/broken.yaml", dir);
    write_file(path, "qbench_profile: 1\nname: [\n");
    setenv("QBENCH_PROFILE_PATH", dir, 1);

    qp_catalog cat;
    qp_catalog_load(&cat);
    int shipped_seen = 0, shadowed = 0, broken = 0;
    for (int i = 0; i < cat.n; i++) {
        const qp_entry *e = &cat.v[i];
        if (!e->profile) {
            broken++;
            assert_non_null(strstr(e->error, "broken.yaml:"));
            continue;
        }
        if (!strcmp(e->dir_label, "./profiles"))
            shipped_seen++;
        if (e->shadowed) {
            shadowed++;
            assert_string_equal(e->profile->vendor, "Shadowed");
        }
    }
    assert_int_equal(shipped_seen, 5);
    assert_int_equal(shadowed, 1);
    assert_int_equal(broken, 1);
    const qp_profile *a100 = qp_catalog_find(&cat, "a100");
    assert_non_null(a100);
    assert_string_equal(a100->vendor, "NVIDIA"); /* ./profiles wins */
    const qp_profile *zz = qp_catalog_find(&cat, "zz");
    assert_non_null(zz);
    assert_string_equal(zz->name, "zz-extra");
    assert_null(qp_catalog_find(&cat, "nope"));
    qp_catalog_free(&cat);
    unsetenv("QBENCH_PROFILE_PATH");
    const char *names[] = {"a100-copy.yaml", "extra.yaml", "broken.yaml"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_target_resolve(void **state)
{
    (void)state;
    qh_host h;
    qc_msgs err = {0};
    assert_int_equal(qh_host_discover(&h, &err), QC_OK);
    qp_catalog cat;
    qp_catalog_load(&cat);
    qh_cuda none;
    memset(&none, 0, sizeof none);
    strcpy(none.reason, "no CUDA device: test");
    qp_target t;

    assert_int_equal(qp_target_resolve("host", &cat, &h, &none, &t, &err), QC_OK);
    assert_true(t.local);
    assert_string_equal(t.profile->name, "host");
    qp_target_free(&t);

    assert_int_equal(qp_target_resolve("h100", &cat, &h, &none, &t, &err), QC_OK);
    assert_false(t.local);
    assert_non_null(strstr(t.why, "no CUDA device: test"));
    qp_target_free(&t);

    assert_int_equal(qp_target_resolve("cuda:0", &cat, &h, &none, &t, &err), QC_EINPUT);
    assert_int_equal(qp_target_resolve("bogus", &cat, &h, &none, &t, &err), QC_EINPUT);
    assert_int_equal(err.n, 2);

    /* a fake machine with an H100 and an unknown GPU */
    qh_cuda two;
    memset(&two, 0, sizeof two);
    two.n = 2;
    two.dev[0] = (qh_cuda_device){.index = 0, .name = "NVIDIA H100 80GB HBM3", .cc_major = 9, .sms = 132,
                                  .l2_size = 50u << 20, .bandwidth_gbs = 3352};
    two.dev[1] = (qh_cuda_device){.index = 1, .name = "NVIDIA B200", .cc_major = 10, .sms = 148,
                                  .l2_size = 126u << 20, .bandwidth_gbs = 8000};
    assert_int_equal(qp_target_resolve("h100", &cat, &h, &two, &t, &err), QC_OK);
    assert_true(t.local);
    assert_int_equal(t.cuda_index, 0);
    qp_target_free(&t);
    assert_int_equal(qp_target_resolve("cuda:0", &cat, &h, &two, &t, &err), QC_OK);
    assert_string_equal(t.profile->name, "h100-sxm5-80gb");
    qp_target_free(&t);
    assert_int_equal(qp_target_resolve("cuda:1", &cat, &h, &two, &t, &err), QC_OK);
    assert_string_equal(t.profile->name, "nvidia-b200");
    assert_true(t.profile->spec[QP_SMS].value == 148);
    assert_int_equal(t.profile->match.cc_major, 10);
    char *y = emit_to_string(t.profile); /* a generated profile is a valid one */
    qp_profile *back = parse_ok(y);
    assert_same(t.profile, back);
    qp_profile_free(back);
    free(y);
    qp_target_free(&t);
    qp_catalog_free(&cat);
    qc_msgs_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_round_trip),   cmocka_unit_test(test_host_profile_round_trip),
        cmocka_unit_test(test_matching),             cmocka_unit_test(test_errors_are_collected),
        cmocka_unit_test(test_fit_section),
        cmocka_unit_test(test_catalog_search_path), cmocka_unit_test(test_target_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
