/* qbench predict: the roofline's answer for one layer on any profiled device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hardware/hardware.h"
#include "kernels/qk.h"
#include "profiles/profile.h"
#include "tuner/roofline.h"

static const char help[] =
    "usage: qbench predict --device NAME [--scheme S] -m M -n N -k K [--group G] [--crossovers]\n\n"
    "Predicts the time of Y[M×N] = X[M×K]·W[N×K]ᵀ on a device from its profile: the fitted roofline\n"
    "when the profile has one (qbench fit), else its measured ceilings, else its datasheet figures.\n"
    "Without --scheme, every scheme. --crossovers prints, for the shape, the M where each pair of\n"
    "schemes swaps order. The device need not be here.\n";

/* The model of the kernel the device runs for this problem, in its default configuration. */
static int model_for(const qp_profile *p, const qk_problem *pr, qt_model *m, const char **source)
{
    const qk_kernel *k = qt_kernel_for(p, pr->scheme);
    if (!k)
        return 0;
    qk_config cfg;
    qk_kernel_defaults(k, pr, &cfg);
    return qt_model_of(p, k, &cfg, m, source);
}

int cmd_predict(int argc, char **argv)
{
    enum { O_DEVICE = 256, O_SCHEME, O_GROUP, O_CROSS };
    static const struct option lo[] = {{"device", required_argument, 0, O_DEVICE}, {"scheme", required_argument, 0, O_SCHEME},
                                       {"group", required_argument, 0, O_GROUP},   {"crossovers", no_argument, 0, O_CROSS},
                                       {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    const char *device = NULL, *scheme = NULL;
    int m = 1, n = 0, k = 0, group = 128, cross = 0, o, bad = 0;
    qc_msgs err = {0};
    while ((o = cli_getopt(argc, argv, "m:n:k:h", lo)) != -1) {
        switch (o) {
        case O_DEVICE: device = optarg; break;
        case O_SCHEME: scheme = optarg; break;
        case O_GROUP: bad |= qc_parse_int(optarg, -1, 1 << 30, "--group", &group, &err); break;
        case O_CROSS: cross = 1; break;
        case 'm': bad |= qc_parse_int(optarg, 1, 1 << 30, "-m", &m, &err); break;
        case 'n': bad |= qc_parse_int(optarg, 1, 1 << 30, "-n", &n, &err); break;
        case 'k': bad |= qc_parse_int(optarg, 1, 1 << 30, "-k", &k, &err); break;
        case 'h': fputs(help, stdout); return 0;
        default: return QC_EINPUT;
        }
        if (bad)
            return cli_fail(&err, QC_EINPUT);
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    if (!device)
        return cli_usage_error(argv[0], "--device is required (a profile name such as h100, or host)");
    qk_scheme only = QK_SCHEME_COUNT;
    if (scheme && qk_scheme_parse(scheme, &only))
        return cli_usage_error(argv[0], "unknown scheme '%s'", scheme);
    qp_catalog cat;
    qp_catalog_load_with_host(&cat, NULL);
    const qp_profile *p = qp_catalog_find(&cat, device);
    if (!p) {
        qp_catalog_free(&cat);
        return cli_usage_error(argv[0], "no profile named '%s' ('qbench profile list' shows them)", device);
    }
    printf("%s, M=%d N=%d K=%d (int4 group %d)\n", p->name, m, n, k, group);
    printf("%-6s %12s %8s %-9s %s\n", "scheme", "time (us)", "bound", "from", "GB/s, GOP/s, t0 (us)");
    int rc = 0, shown = 0;
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        if (only != QK_SCHEME_COUNT && s != (int)only)
            continue;
        qk_problem pr = {.scheme = (qk_scheme)s, .m = m, .n = n, .k = k, .group = qk_scheme_grouped((qk_scheme)s) ? group : 0};
        qc_msgs why = {0};
        if (qk_problem_check(&pr, &why)) {
            if (only != QK_SCHEME_COUNT) {
                qc_msgs_print(&why, stderr);
                rc = QC_EINPUT;
            }
            qc_msgs_free(&why);
            continue;
        }
        qt_model md;
        const char *source;
        if (!model_for(p, &pr, &md, &source)) {
            printf("%-6s %12s %8s %-9s profile %s has no ceiling for this scheme\n", qk_scheme_name((qk_scheme)s), "-",
                   "-", "-", p->name);
            shown++;
            if (only != QK_SCHEME_COUNT) { /* asked for exactly this: say it on stderr too, and fail */
                qc_msgs_addf(&err, "profile %s has no %s ceiling (the device has no such path, or its figure is "
                                   "missing)", p->name, qk_scheme_name((qk_scheme)s));
                rc = QC_EINPUT;
            }
            continue;
        }
        qk_cost c = qk_problem_cost(&pr);
        printf("%-6s %12.2f %8s %-9s %.1f, %.1f, %.2f\n", qk_scheme_name((qk_scheme)s), qt_predict(&md, c.bytes, c.flops) * 1e6,
               qt_bound(&md, c.bytes, c.flops), source, md.bw_gbs, md.peak_gops, md.t0_s * 1e6);
        shown++;
    }
    if (cross && !rc) {
        printf("\ncrossovers for %dx%d:\n", n, k);
        for (int a = 0; a < QK_SCHEME_COUNT; a++)
            for (int b = a + 1; b < QK_SCHEME_COUNT; b++) {
                qt_model ma, mb;
                const char *sa, *sb;
                qk_problem pa = {.scheme = (qk_scheme)a, .m = 1, .n = n, .k = k,
                                 .group = qk_scheme_grouped((qk_scheme)a) ? group : 0};
                qk_problem pb = {.scheme = (qk_scheme)b, .m = 1, .n = n, .k = k,
                                 .group = qk_scheme_grouped((qk_scheme)b) ? group : 0};
                if (qk_problem_check(&pa, NULL) || qk_problem_check(&pb, NULL) || !model_for(p, &pa, &ma, &sa) ||
                    !model_for(p, &pb, &mb, &sb))
                    continue;
                int dir, x = qt_crossover(&ma, &pa, &mb, &pb, 1 << 16, &dir);
                if (x)
                    printf("  %s → %s at M≈%d\n", qk_scheme_name((qk_scheme)(dir > 0 ? a : b)),
                           qk_scheme_name((qk_scheme)(dir > 0 ? b : a)), x);
            }
    }
    qp_catalog_free(&cat);
    if (!rc && !shown)
        return cli_usage_error(argv[0], "nothing to predict: give -m, -n and -k that suit the scheme");
    return rc ? cli_fail(&err, rc) : 0;
}
