/* An emitted dispatch header, compiled as C99 and (copied to .cc) as C++17 with -Wall -Wextra
 * -Werror -pedantic: every lookup must give the winner its JSON twin names, in every bucket;
 * shapes the sweep never saw must be answered from the model and say so; the header's cost
 * function must be qbench's. Prints "N passed, M failed" and exits non-zero on a failure. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qbench_dispatch_host.h"

#ifndef __cplusplus
#include "kernels/qk.h"
#endif

static int passed, failed;

static void check(int ok, const char *what, const char *detail)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAILED: %s (%s)\n", what, detail);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_dispatch DISPATCH.json\n");
        return 2;
    }
    json_error_t je;
    json_t *doc = json_load_file(argv[1], 0, &je);
    if (!doc) {
        fprintf(stderr, "%s: %s\n", argv[1], je.text);
        return 2;
    }
    json_t *table = json_object_get(doc, "table");
    size_t i;
    json_t *e;
    json_array_foreach(table, i, e)
    {
        const char *sname = json_string_value(json_object_get(e, "scheme"));
        int scheme = -1, s;
        for (s = 0; s < QBD_HOST_SCHEME_COUNT; s++)
            if (!strcmp(qbd_host_scheme_names[s], sname))
                scheme = s;
        int32_t n = (int32_t)json_integer_value(json_object_get(e, "n"));
        int32_t k = (int32_t)json_integer_value(json_object_get(e, "k"));
        int32_t g = (int32_t)json_integer_value(json_object_get(e, "group"));
        int32_t lo = (int32_t)json_integer_value(json_object_get(e, "m_lo"));
        int32_t hi = (int32_t)json_integer_value(json_object_get(e, "m_hi"));
        char what[160];
        snprintf(what, sizeof what, "%s %dx%d g%d bucket (%d, %d]", sname, n, k, g, lo, hi);
        /* every M of the bucket gives the JSON's winner, measured */
        int32_t ms[3] = {lo + 1, (lo + hi + 1) / 2, hi};
        int j;
        for (j = 0; j < 3; j++) {
            qbd_host_choice c;
            int found = qbd_host_lookup(scheme, ms[j], n, k, g, &c);
            check(found && c.source == QBD_HOST_MEASURED, what, "lookup found no measured entry");
            if (!found)
                continue;
            check(!strcmp(c.kernel_name, json_string_value(json_object_get(e, "kernel"))), what, c.kernel_name);
            check(!strcmp(c.config, json_string_value(json_object_get(e, "config"))), what, c.config);
            check(c.time_s > 0, what, "no time");
        }
        /* at the M measured, the time is the measured one */
        {
            qbd_host_choice c;
            int32_t mm = (int32_t)json_integer_value(json_object_get(e, "m_measured"));
            double t = json_real_value(json_object_get(e, "time_s"));
            qbd_host_lookup(scheme, mm, n, k, g, &c);
            check(fabs(c.time_s - t) <= 1e-6 * t, what, "time at the measured M");
        }
#ifndef __cplusplus
        /* the header's cost function is qbench's */
        {
            qk_problem p;
            memset(&p, 0, sizeof p);
            p.scheme = (qk_scheme)scheme;
            p.m = hi;
            p.n = n;
            p.k = k;
            p.group = g;
            check(fabs(qk_problem_cost(&p).bytes - qbd_host_bytes(scheme, hi, n, k, g)) < 0.5, what, "bytes");
        }
#endif
    }
    /* a shape never measured: answered from the fitted model, marked so */
    {
        qbd_host_choice c;
        int found = qbd_host_lookup(QBD_HOST_W4A16, 4, 8192, 28672, 128, &c);
        check(found && c.source == QBD_HOST_MODEL && c.time_s > 0 &&
                  fabs(c.time_s - qbd_host_predict(QBD_HOST_W4A16, 4, 8192, 28672, 128)) < 1e-12,
              "unseen shape", "not answered from the model");
        /* the best scheme of a set is the fastest of its members */
        qbd_host_choice best, a, b;
        unsigned set = (1u << QBD_HOST_W4A16) | (1u << QBD_HOST_W8A8);
        check(qbd_host_best_scheme(set, 1, 1024, 512, 128, &best), "best scheme", "none");
        qbd_host_lookup(QBD_HOST_W4A16, 1, 1024, 512, 128, &a);
        qbd_host_lookup(QBD_HOST_W8A8, 1, 1024, 512, 0, &b);
        check(best.time_s == (a.time_s < b.time_s ? a.time_s : b.time_s), "best scheme", "not the fastest");
        check(!qbd_host_best_scheme(0, 1, 1024, 512, 128, &best), "empty set", "found something");
    }
    json_decref(doc);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
