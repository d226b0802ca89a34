/* qbench predict: the roofline's answer for one layer on any profiled device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/pipeline.h"
#include "hardware/hardware.h"
#include "kernels/qk.h"
#include "profiles/profile.h"
#include "tuner/roofline.h"

static const char help[] =
    "usage: qbench predict --device NAME|FILE [--scheme S] -m M -n N -k K [--group G] [--fit PROFILE]\n"
    "                      [--crossovers]\n\n"
    "Predicts the time of Y[M×N] = X[M×K]·W[N×K]ᵀ on a device from its profile (a name, or a profile's\n"
    "file, such as the one qbench fit wrote beside a sweep's results): its ceilings (measured,\n"
    "else its datasheet figures) times the efficiencies its fit learned (qbench fit), when it has a\n"
    "fit, with the fit's stated error; --fit PROFILE takes the efficiencies from another profile's\n"
    "fit (the same kernels, learned on another machine) and says so. Without --scheme, every scheme.\n"
    "--crossovers prints, for the shape, the M where each pair of schemes swaps order. The device\n"
    "need not be here.\n";

int cmd_predict(int argc, char **argv)
{
    enum { O_DEVICE = 256, O_SCHEME, O_GROUP, O_CROSS, O_FIT };
    static const struct option lo[] = {{"device", required_argument, 0, O_DEVICE}, {"scheme", required_argument, 0, O_SCHEME},
                                       {"group", required_argument, 0, O_GROUP},   {"crossovers", no_argument, 0, O_CROSS},
                                       {"fit", required_argument, 0, O_FIT},       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    const char *device = NULL, *scheme = NULL, *fit = NULL;
    int m = 1, n = 0, k = 0, group = 128, cross = 0, o, bad = 0;
    qc_msgs err = {0};
    while ((o = cli_getopt(argc, argv, "m:n:k:h", lo)) != -1) {
        switch (o) {
        case O_DEVICE: device = optarg; break;
        case O_SCHEME: scheme = optarg; break;
        case O_GROUP: bad |= qc_parse_int(optarg, -1, 1 << 30, "--group", &group, &err); break;
        case O_CROSS: cross = 1; break;
        case O_FIT: fit = optarg; break;
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
    qp_profile *p = NULL, *eff = NULL;
    if (!cli_profile_named(device, &p, &err) && fit && !cli_profile_named(fit, &eff, &err) && !eff->fit.present)
        qc_msgs_addf(&err, "--fit %s: profile %s has no fit (run qbench fit on its results)", fit, eff->name);
    if (!p || (fit && (!eff || !eff->fit.present))) {
        qp_profile_free(p);
        qp_profile_free(eff);
        return cli_fail(&err, QC_EINPUT);
    }
    printf("%s, M=%d N=%d K=%d (int4 group %d)\n", p->name, m, n, k, group);
    printf("%-6s %12s %8s %-20s %-28s %s\n", "scheme", "time (us)", "bound", "kernel", "from",
           "GB/s, GOP/s, t0 (us); stated error");
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
        qt_scheme_model md;
        char source[160];
        if (!qt_scheme_model_of(p, eff, (qk_scheme)s, &md, source, sizeof source)) {
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
        const qt_model *at = m <= md.split ? &md.small : &md.large;
        printf("%-6s %12.2f %8s %-20s %-28s %.1f, %.1f, %.2f", qk_scheme_name((qk_scheme)s),
               qt_scheme_predict(&md, c.bytes, c.flops, m) * 1e6, qt_bound(at, c.bytes, c.flops, m), md.kernel, source,
               at->bw_gbs, at->peak_gops, at->t0_s * 1e6);
        if (md.cv.n)
            printf("; median %.1f%%, max %.1f%%", 100 * md.cv.median, 100 * md.cv.max);
        printf("\n");
        shown++;
    }
    if (cross && !rc) {
        printf("\ncrossovers for %dx%d:\n", n, k);
        for (int a = 0; a < QK_SCHEME_COUNT; a++)
            for (int b = a + 1; b < QK_SCHEME_COUNT; b++) {
                qt_scheme_model ma, mb;
                char sa[160], sb[160];
                qk_problem pa = {.scheme = (qk_scheme)a, .m = 1, .n = n, .k = k,
                                 .group = qk_scheme_grouped((qk_scheme)a) ? group : 0};
                qk_problem pb = {.scheme = (qk_scheme)b, .m = 1, .n = n, .k = k,
                                 .group = qk_scheme_grouped((qk_scheme)b) ? group : 0};
                if (qk_problem_check(&pa, NULL) || qk_problem_check(&pb, NULL) ||
                    !qt_scheme_model_of(p, eff, (qk_scheme)a, &ma, sa, sizeof sa) ||
                    !qt_scheme_model_of(p, eff, (qk_scheme)b, &mb, sb, sizeof sb))
                    continue;
                int dir, x = qt_crossover(&ma, &pa, &mb, &pb, 1 << 16, &dir);
                if (x)
                    printf("  %s → %s at M≈%d\n", qk_scheme_name((qk_scheme)(dir > 0 ? a : b)),
                           qk_scheme_name((qk_scheme)(dir > 0 ? b : a)), x);
            }
    }
    qp_profile_free(p);
    qp_profile_free(eff);
    if (!rc && !shown)
        return cli_usage_error(argv[0], "nothing to predict: give -m, -n and -k that suit the scheme");
    return rc ? cli_fail(&err, rc) : 0;
}
