/* hardware/: CPUID and hwloc against the kernel's own view (/proc/cpuinfo, sysfs, sysconf),
 * and CUDA discovery answering "no device" as a normal result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hardware/ceilings.h"
#include "hardware/gpu_counters.h"
#include "hardware/hardware.h"
#include "tests/testutil.h"

static int cpuinfo_has_flag(const char *all, const char *flag)
{
    const char *line = strstr(all, "\nflags");
    if (!line)
        return -1;
    const char *end = strchr(line + 1, '\n');
    size_t n = strlen(flag);
    for (const char *p = strchr(line, ':'); p && p < end; p = strchr(p + 1, ' ')) {
        const char *w = p + 1;
        if (!strncmp(w, flag, n) && (w[n] == ' ' || w[n] == '\n'))
            return 1;
    }
    return 0;
}

static void test_cpu_features_match_kernel(void **state)
{
    (void)state;
    char *all = tu_slurp("/proc/cpuinfo");
    if (!all || !strstr(all, "\nflags"))
        skip();
    qh_cpu c;
    assert_int_equal(qh_cpu_identify(&c), QC_OK);
    assert_true(strlen(c.vendor) > 0);
    for (int f = 0; f < QH_FEATURE_COUNT; f++) {
        int kernel = cpuinfo_has_flag(all, qh_feature_name(f));
        if (kernel != qh_cpu_has(&c, f))
            print_error("feature %s: cpuid %d, /proc/cpuinfo %d\n", qh_feature_name(f), qh_cpu_has(&c, f), kernel);
        assert_int_equal(kernel, qh_cpu_has(&c, f));
    }
    /* consistency: AVX2 needs AVX, AVX-512 subsets need AVX512F */
    if (qh_cpu_has(&c, QH_AVX2))
        assert_true(qh_cpu_has(&c, QH_AVX));
    if (qh_cpu_has(&c, QH_AVX512BW))
        assert_true(qh_cpu_has(&c, QH_AVX512F));
    char *model = strstr(all, "model name");
    assert_non_null(model);
    assert_non_null(strstr(model, c.model));
    free(all);
}

static void test_topology_matches_kernel(void **state)
{
    (void)state;
    qh_host h;
    qc_msgs err = {0};
    assert_int_equal(qh_host_discover(&h, &err), QC_OK);
    assert_int_equal(h.threads, (int)sysconf(_SC_NPROCESSORS_ONLN));
    assert_true(h.cores >= 1 && h.cores <= h.threads);
    assert_true(h.packages >= 1 && h.numa_nodes >= 1);
    assert_true(h.memory == (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE));
    assert_true(h.numa_memory_total > 0);
    /* each level larger than the one below it */
    for (int level = 2; level <= 3; level++) {
        const qh_cache *lo = qh_host_cache(&h, level - 1), *hi = qh_host_cache(&h, level);
        if (lo && hi)
            assert_true(hi->size > lo->size);
    }
    /* sizes as sysfs reports them for cpu0 */
    int level, deepest = 0;
    long kib;
    char type[32];
    for (int idx = 0; tu_cpu0_cache(idx, &level, type, sizeof type, &kib); idx++)
        if (strcmp(type, "Instruction") != 0) {
            const qh_cache *c = qh_host_cache(&h, level);
            assert_non_null(c);
            assert_true(c->size == (uint64_t)kib * 1024);
            assert_true(c->line_size >= 32);
            if (level > deepest)
                deepest = level;
        }
    /* the last-level cache: the deepest data level, every instance of it (where sysfs names one) */
    if (deepest) {
        const qh_cache *last = qh_host_cache(&h, deepest);
        assert_non_null(last);
        assert_true(last->instances >= 1);
        assert_true(qh_host_llc_bytes(&h) == (double)last->size * last->instances);
    }
}

static void test_cuda_no_device_is_an_answer(void **state)
{
    (void)state;
    qh_cuda c;
    assert_int_equal(qh_cuda_discover(&c), QC_OK);
    assert_true(c.n >= 0 && c.n <= QH_MAX_CUDA_DEVICES);
    if (c.n == 0) {
        print_message("%s\n", c.reason);
        assert_non_null(strstr(c.reason, "no CUDA device: "));
    }
    for (int i = 0; i < c.n; i++) {
        assert_true(c.dev[i].sms > 0 && c.dev[i].memory > 0 && c.dev[i].bandwidth_gbs > 0);
        assert_true(strlen(c.dev[i].name) > 0);
    }
#ifdef QBENCH_HAVE_CUDA
    assert_true(c.built);
#else
    assert_false(c.built);
#endif
}

/* Without a GPU (or a driver, or permission) every metric says why, and carries no value. */
static void test_gpu_counters_unavailable_with_reasons(void **state)
{
    (void)state;
    qh_cuda cu;
    qh_cuda_discover(&cu);
    if (cu.n > 0)
        skip(); /* a GPU is here: the GPU script (tests/gpu/run.sh) checks the counters */
    qh_gpu_counters *c;
    qc_msgs err = {0};
    assert_int_equal(qh_gpu_counters_create(&c, 0, qh_gpu_metrics, qh_n_gpu_metrics, &err), QC_OK);
    assert_int_equal(qh_gpu_counters_count(c), qh_n_gpu_metrics);
    qh_gpu_counters_begin(c);
    qh_gpu_counters_end(c);
    for (int i = 0; i < qh_n_gpu_metrics; i++) {
        const qh_counter *k = qh_gpu_counters_get(c, i);
        assert_string_equal(k->name, qh_gpu_metrics[i]);
        assert_false(k->available);
        assert_non_null(k->reason);
        assert_true(strlen(k->reason) > 10);
        if (i == 0)
            print_message("%s: unavailable: %s\n", k->name, k->reason);
    }
    qh_gpu_counters_destroy(c);
}

/* The usual phase: full-rate cores, and DRAM near its usual rate either way. */
static void test_phase_bands(void **state)
{
    (void)state;
    assert_true(qh_phase_usual(230, 235, 31, 30));
    assert_true(qh_phase_usual(0.86 * 235, 235, 30 * 1.2, 30));
    assert_false(qh_phase_usual(118, 235, 30, 30));     /* two virtual CPUs on one core */
    assert_false(qh_phase_usual(235, 235, 55, 30));     /* DRAM in a fast phase */
    assert_false(qh_phase_usual(235, 235, 20, 30));     /* and in a slow one */
    assert_true(qh_phase_usual(235, 235, 30 / 1.24, 30));
}

/* A sentinel reads this machine: it answers within the time it was given. */
static void test_sentinel_answers(void **state)
{
    (void)state;
    qh_sentinel *s = qh_sentinel_create(32.0 * 1024 * 1024, 1);
    if (!s)
        skip(); /* no AVX2 */
    double t0 = qc_now(), w = qh_sentinel_wait(s, 0.5);
    assert_true(w == -1 || (w >= 0 && w <= 0.5 + 0.2));
    assert_true(qc_now() - t0 < 0.5 + 0.5);
    qh_sentinel_free(s);
}

/* The usual phase is the session's: a spell of minutes (200 reads, about 100 points) stays
 * unusual to its end, either way; a machine loaded for good becomes the usual within the history. */
static void test_sentinel_history(void **state)
{
    (void)state;
    qh_sentinel *s = qh_sentinel_create(32.0 * 1024 * 1024, 1);
    if (!s)
        skip(); /* no AVX2 */
    for (int i = 0; i < 300; i++) /* the session so far, beside the sentinel's own first reads */
        qh_sentinel_add(s, 230 + i % 7, 30 + 0.1 * (i % 5));
    assert_true(qh_sentinel_add(s, 232, 30.2));
    for (int i = 0; i < 200; i++)
        assert_false(qh_sentinel_add(s, 120, 30));  /* two virtual CPUs on one core, for minutes */
    for (int i = 0; i < 200; i++)
        assert_false(qh_sentinel_add(s, 230, 55));  /* then the DRAM's fast phase */
    const qh_phase_read r = qh_sentinel_last(s);
    assert_true(r.gops == 230 && r.gbs == 55);
    assert_true(r.usual_gops >= 230 && r.usual_gops <= 237 && r.usual_gbs >= 30 && r.usual_gbs <= 30.4);
    int usual = 0;
    for (int i = 0; i < QH_PHASE_HISTORY && !usual; i++)
        usual = qh_sentinel_add(s, 120, 55); /* loaded for good */
    assert_true(usual);
    assert_true(qh_sentinel_last(s).usual_gops == 120);
    qh_sentinel_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_features_match_kernel),
        cmocka_unit_test(test_phase_bands),
        cmocka_unit_test(test_sentinel_history),
        cmocka_unit_test(test_sentinel_answers),
        cmocka_unit_test(test_topology_matches_kernel),
        cmocka_unit_test(test_cuda_no_device_is_an_answer),
        cmocka_unit_test(test_gpu_counters_unavailable_with_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
