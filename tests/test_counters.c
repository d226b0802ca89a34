/* hardware/counters: a software event that works (perf::TASK-CLOCK, checked against the
 * thread's CPU clock), events that do not exist here reported unavailable with PAPI's reason,
 * and one missing event never taking the others down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <papi.h>
#include <string.h>
#include <time.h>

#include "hardware/counters.h"

static double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double busy(double ms)
{
    double t0 = thread_cpu_ns();
    volatile double x = 1;
    while (thread_cpu_ns() - t0 < ms * 1e6)
        for (int i = 0; i < 1000; i++)
            x = x * 1.0000001 + 1e-9;
    return thread_cpu_ns() - t0;
}

static int perf_event_disabled(void)
{
    qh_counters_backend(); /* initialises PAPI */
    int cidx = PAPI_get_component_index("perf_event");
    const PAPI_component_info_t *ci = cidx >= 0 ? PAPI_get_component_info(cidx) : NULL;
    if (!ci || ci->disabled) {
        print_message("perf_event component disabled: %s\n", ci ? ci->disabled_reason : "absent");
        return 1;
    }
    return 0;
}

static void test_task_clock_counts(void **state)
{
    (void)state;
    if (perf_event_disabled())
        skip();
    const char *ev[] = {"perf::TASK-CLOCK"};
    qh_counters *c;
    qc_msgs err = {0};
    assert_int_equal(qh_counters_create(&c, ev, 1, &err), QC_OK);
    for (int round = 0; round < 2; round++) { /* an event set can be reused */
        qh_counters_start(c);
        double ns = busy(30);
        qh_counters_stop(c);
        const qh_counter *k = qh_counters_get(c, 0);
        assert_true(k->available);
        print_message("TASK-CLOCK %lld ns over %.0f ns of thread CPU time\n", k->value, ns);
        assert_true(k->value > 0.5 * ns && k->value < 2.0 * ns);
    }
    qh_counters_destroy(c);
}

static void test_unavailable_events_have_reasons(void **state)
{
    (void)state;
    const char *ev[] = {"qbench::NO_SUCH_EVENT", "perf::TASK-CLOCK", "PAPI_TOT_CYC", "PAPI_L1_DCM", "perf::CYCLES"};
    qh_counters *c;
    qc_msgs err = {0};
    assert_int_equal(qh_counters_create(&c, ev, 5, &err), QC_OK);
    assert_int_equal(qh_counters_count(c), 5);
    qh_counters_start(c);
    busy(10);
    qh_counters_stop(c);
    const qh_counter *bogus = qh_counters_get(c, 0);
    assert_false(bogus->available);
    assert_non_null(strstr(bogus->reason, "unknown event name: Event does not exist"));
    for (int i = 1; i < 5; i++) {
        const qh_counter *k = qh_counters_get(c, i);
        assert_string_equal(k->name, ev[i]);
        if (k->available) {
            print_message("%-18s %lld\n", k->name, k->value);
            assert_true(k->value > 0); /* a real count over 10 ms of work is never 0 */
        } else {
            print_message("%-18s unavailable: %s\n", k->name, k->reason);
            assert_non_null(k->reason);
            assert_true(strlen(k->reason) > 10);
        }
    }
    if (!perf_event_disabled())
        assert_true(qh_counters_get(c, 1)->available); /* the missing ones did not take TASK-CLOCK down */
    assert_null(qh_counters_get(c, 5));
    qh_counters_destroy(c);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    qh_counters *c;
    qc_msgs err = {0};
    assert_int_equal(qh_counters_create(&c, NULL, 0, &err), QC_EINPUT);
    assert_null(c);
    assert_int_equal(err.n, 1);
    qc_msgs_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_clock_counts),
        cmocka_unit_test(test_unavailable_events_have_reasons),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
