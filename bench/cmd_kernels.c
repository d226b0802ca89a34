/* qbench kernels: the registry: every kernel, its scheme, ISA, whether this CPU runs it, and
 * the parameters the autotuner sweeps. */
#include <stdio.h>

#include "bench/cli.h"
#include "kernels/qk.h"

static const char help[] = "usage: qbench kernels\n\n"
                           "Lists the kernel registry: name, scheme, instruction set, whether this CPU runs it\n"
                           "(the default for a scheme is the most specialised one it runs), and each tunable\n"
                           "parameter with the values the autotuner sweeps. Use them with qbench run --kernel\n"
                           "NAME --config name=value,...\n";

int cmd_kernels(int argc, char **argv)
{
    int rc = cli_help_only(argc, argv, help);
    if (rc >= 0)
        return rc;
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    printf("%-18s %-6s %-11s %-9s %s\n", "KERNEL", "SCHEME", "ISA", "HERE", "PARAMETERS (values swept)");
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = qk_kernel_get(i);
        const char *here = !qk_kernel_supported(k) ? "no" : qk_kernel_best(k->scheme) == k ? "default" : "yes";
        printf("%-18s %-6s %-11s %-9s", k->name, qk_scheme_name(k->scheme), k->isa, here);
        for (int j = 0; j < k->n_params; j++) {
            int v[16], n = qk_param_values(k, j, v, 16);
            printf("%s%s={", j ? " " : "", k->params[j].name);
            for (int t = 0; t < n; t++)
                printf("%s%d", t ? "," : "", v[t]);
            printf("}");
        }
        printf("\n");
    }
    return 0;
}
