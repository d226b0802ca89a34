/* qbench kernels: the registry: every kernel, its scheme, ISA, whether this CPU runs it, and
 * the parameters the autotuner sweeps. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "kernels/qk.h"

static const char help[] = "usage: qbench kernels\n\n"
                           "Lists the kernel registry: name, scheme, instruction set, whether this CPU runs it\n"
                           "(the default for a scheme is the most specialised one it runs), the number format its\n"
                           "inner loop computes in (its compute roof; two when the configuration picks another\n"
                           "loop at large M), and each tunable parameter with the values the autotuner sweeps.\n"
                           "Library kernels (oneDNN, cuBLASLt) are rows like the others; each kernel this machine\n"
                           "cannot run is listed with the reason. Use them with qbench run --kernel NAME --config\n"
                           "name=value,...\n";

int cmd_kernels(int argc, char **argv)
{
    int rc = cli_help_only(argc, argv, help);
    if (rc >= 0)
        return rc;
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    printf("%-18s %-6s %-11s %-9s %-20s %s\n", "KERNEL", "SCHEME", "ISA", "HERE", "ROOF (small/large M)",
           "PARAMETERS (values swept)");
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = qk_kernel_get(i);
        const char *here = !qk_kernel_supported(k) ? "no" : qk_kernel_best(k->scheme) == k ? "default" : "yes";
        /* the number format its inner loop computes in, at M = 1 and at M = 512 by default */
        qk_problem small = {.scheme = k->scheme, .m = 1, .n = 4096, .k = 4096, .group = 128}, large = small;
        large.m = 512;
        qk_config cs, cl;
        qk_kernel_defaults(k, &small, &cs);
        qk_kernel_defaults(k, &large, &cl);
        char roof[40];
        const char *fs = qk_kernel_format(k, &cs), *fl = qk_kernel_format(k, &cl);
        snprintf(roof, sizeof roof, strcmp(fs, fl) ? "%s/%s" : "%s", fs, fl);
        printf("%-18s %-6s %-11s %-9s %-20s", k->name, qk_scheme_name(k->scheme), k->isa, here, roof);
        for (int j = 0; j < k->n_params; j++) {
            int v[16], n = qk_param_values(k, j, v, 16);
            printf("%s%s={", j ? " " : "", k->params[j].name);
            for (int t = 0; t < n; t++)
                printf("%s%d", t ? "," : "", v[t]);
            printf("}");
        }
        printf("\n");
    }
    printf("\nlibrary kernels (a sweep measures them beside qbench's own):");
    for (int i = 0; i < qk_kernel_count(); i++)
        if (qk_kernel_is_provider(qk_kernel_get(i)))
            printf(" %s", qk_kernel_get(i)->name);
    printf("\n");
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = qk_kernel_get(i);
        char why[256];
        if (!qk_kernel_supported(k)) {
            qk_kernel_why_not(k, why, sizeof why);
            printf("not here: %-18s %s\n", k->name, why);
        }
    }
    return 0;
}
