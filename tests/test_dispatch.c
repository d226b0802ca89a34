/* An emitted dispatch header, compiled as C99 and (copied to .cc) as C++17 with -Wall -Wextra
 * -Werror -pedantic: every lookup must give the winner its JSON twin names, in every bucket;
 * shapes the sweep never saw must be answered from the model and say so; the header's cost
 * function must be qbench's for every scheme and every combination of flags. Prints
 * "N passed, M failed" and exits non-zero on a failure. */
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

/* The flags of a table entry, from its JSON twin. */
static unsigned entry_flags(json_t *e)
{
    json_t *fs = json_object_get(e, "fp8_scale");
    const char *out = json_string_value(json_object_get(e, "out"));
    unsigned f = 0;
    if (json_is_true(json_object_get(e, "asym")))
        f |= QBD_HOST_ASYM;
    if (out && !strcmp(out, "f32"))
        f |= QBD_HOST_OUT_F32;
    if (fs && !strcmp(json_string_value(fs), "channel"))
        f |= QBD_HOST_FP8_CHANNEL;
    return f;
}

#ifndef __cplusplus
/* The header's bytes and operations are qbench's one cost function, for every scheme, every
 * combination of flags the scheme takes, several shapes and groups. */
static void check_cost_function(void)
{
    static const int shapes[][3] = {{1, 4096, 4096}, {7, 100, 256}, {512, 28672, 8192}, {3, 16, 64}};
    static const int groups[] = {32, 128, -1};
    int covered[QK_SCHEME_COUNT][8];
    memset(covered, 0, sizeof covered);
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        for (unsigned f = 0; f < 8; f++)
            for (int si = 0; si < 4; si++)
                for (int gi = 0; gi < 3; gi++) {
                    qk_problem p;
                    memset(&p, 0, sizeof p);
                    p.scheme = (qk_scheme)s;
                    p.m = shapes[si][0];
                    p.n = shapes[si][1];
                    p.k = shapes[si][2];
                    p.group = qk_scheme_grouped(p.scheme) ? groups[gi] : 0;
                    p.asym = (f & QBD_HOST_ASYM) != 0;
                    p.out_f32 = (f & QBD_HOST_OUT_F32) != 0;
                    p.fp8_channel = (f & QBD_HOST_FP8_CHANNEL) != 0;
                    if (qk_problem_check(&p, NULL) != QC_OK)
                        continue; /* a flag the scheme does not take: the header ignores it (below) */
                    qk_cost c = qk_problem_cost(&p);
                    char what[128];
                    snprintf(what, sizeof what, "cost of %s flags %u %dx%dx%d g%d", qk_scheme_name(p.scheme), f, p.m,
                             p.n, p.k, p.group);
                    check(fabs(c.bytes - qbd_host_bytes(s, f, p.m, p.n, p.k, p.group)) <= 1e-9 * c.bytes, what,
                          "bytes");
                    check(fabs(c.flops - qbd_host_flops(s, f, p.m, p.n, p.k)) <= 1e-9 * c.flops, what, "flops");
                    covered[s][f] = 1;
                }
    /* every combination a scheme takes was compared, and the header takes exactly those */
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        for (unsigned f = 0; f < 8; f++) {
            qk_problem p;
            memset(&p, 0, sizeof p);
            p.scheme = (qk_scheme)s;
            p.m = p.n = p.k = 64;
            p.group = qk_scheme_grouped(p.scheme) ? 32 : 0;
            p.asym = (f & QBD_HOST_ASYM) != 0;
            p.out_f32 = (f & QBD_HOST_OUT_F32) != 0;
            p.fp8_channel = (f & QBD_HOST_FP8_CHANNEL) != 0;
            int valid = qk_problem_check(&p, NULL) == QC_OK;
            char what[64];
            snprintf(what, sizeof what, "%s flags %u", qk_scheme_name(p.scheme), f);
            check(covered[s][f] == valid, what, "combination not compared");
            check(valid == ((f & ~qbd_host_scheme_flags[s]) == 0), what, "the header's flags of the scheme");
        }
    /* a flag a scheme does not take changes nothing */
    check(qbd_host_bytes(QBD_HOST_FP16, QBD_HOST_ASYM | QBD_HOST_FP8_CHANNEL, 1, 64, 64, 0) ==
              qbd_host_bytes(QBD_HOST_FP16, 0, 1, 64, 64, 0),
          "ignored flags", "fp16 bytes changed");
}
#endif

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
        unsigned flags = entry_flags(e);
        int32_t n = (int32_t)json_integer_value(json_object_get(e, "n"));
        int32_t k = (int32_t)json_integer_value(json_object_get(e, "k"));
        int32_t g = (int32_t)json_integer_value(json_object_get(e, "group"));
        int32_t lo = (int32_t)json_integer_value(json_object_get(e, "m_lo"));
        int32_t hi = (int32_t)json_integer_value(json_object_get(e, "m_hi"));
        char what[160];
        snprintf(what, sizeof what, "%s flags %u %dx%d g%d bucket (%d, %d]", sname, flags, n, k, g, lo, hi);
        /* every M of the bucket gives the JSON's winner, measured */
        int32_t ms[3] = {lo + 1, (lo + hi + 1) / 2, hi};
        int j;
        for (j = 0; j < 3; j++) {
            qbd_host_choice c;
            int found = qbd_host_lookup(scheme, flags, ms[j], n, k, g, &c);
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
            qbd_host_lookup(scheme, flags, mm, n, k, g, &c);
            check(fabs(c.time_s - t) <= 1e-6 * t, what, "time at the measured M");
        }
        /* another output type is another key: not this entry */
        {
            qbd_host_choice c;
            if (qbd_host_lookup(scheme, flags ^ QBD_HOST_OUT_F32, hi, n, k, g, &c))
                check(c.source != QBD_HOST_MEASURED || strcmp(c.config, "") != 0, what, "flags ignored");
        }
    }
#ifndef __cplusplus
    check_cost_function();
#endif
    /* a shape never measured: answered from the fitted model, marked so */
    {
        qbd_host_choice c;
        int found = qbd_host_lookup(QBD_HOST_W4A16, 0, 4, 8192, 28672, 128, &c);
        check(found && c.source == QBD_HOST_MODEL && c.time_s > 0 &&
                  fabs(c.time_s - qbd_host_predict(QBD_HOST_W4A16, 0, 4, 8192, 28672, 128)) < 1e-12,
              "unseen shape", "not answered from the model");
        /* the best scheme of a set is the fastest of its members */
        qbd_host_choice best, a, b;
        unsigned set = (1u << QBD_HOST_W4A16) | (1u << QBD_HOST_W8A8);
        check(qbd_host_best_scheme(set, 0, 1, 1024, 512, 128, &best), "best scheme", "none");
        qbd_host_lookup(QBD_HOST_W4A16, 0, 1, 1024, 512, 128, &a);
        qbd_host_lookup(QBD_HOST_W8A8, 0, 1, 1024, 512, 0, &b);
        check(best.time_s == (a.time_s < b.time_s ? a.time_s : b.time_s), "best scheme", "not the fastest");
        check(!qbd_host_best_scheme(0, 0, 1, 1024, 512, 128, &best), "empty set", "found something");
    }
    json_decref(doc);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
