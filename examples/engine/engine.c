/* A small "engine": it includes a generated dispatch header, asks it what to run for a few
 * layer shapes and batch sizes, runs that through kernels/qk.h, and checks each output against
 * the fp64 reference. This is how an inference engine uses qbench's tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qk.h"
#include "qbench_dispatch_host.h"

static int run_layer(int scheme, int m, int n, int k, int group)
{
    qbd_host_choice c;
    if (!qbd_host_lookup(scheme, 0, m, n, k, group, &c)) {
        printf("%-6s M=%-4d %5dx%-5d: the table has nothing for this scheme\n", qbd_host_scheme_names[scheme], m, n,
               k);
        return 1;
    }
    static const char *const how[] = {"", "measured", "nearest bucket", "model"};
    const qk_kernel *kern = qk_kernel_find(c.kernel_name);
    const char *note = "";
    if (kern && !qk_kernel_supported(kern)) { /* a table from a bigger machine: run what this one has */
        kern = qk_kernel_best((qk_scheme)scheme);
        note = " (not on this CPU: the best kernel here instead)";
    }
    qk_problem p = {.scheme = (qk_scheme)scheme, .m = m, .n = n, .k = k, .group = group};
    qc_msgs err = {0};
    qk_config cfg;
    if (!kern || qk_config_parse(kern, &p, kern == qk_kernel_find(c.kernel_name) ? c.config : NULL, &cfg, &err)) {
        qc_msgs_print(&err, stdout);
        return 1;
    }
    size_t nk = (size_t)n * k, mk = (size_t)m * k, mn = (size_t)m * n;
    float *w = malloc(nk * 4), *wd = malloc(nk * 4), *xd = malloc(mk * 4);
    uint16_t *x = malloc(mk * 2);
    double *ref = malloc(mn * 8);
    void *y = malloc(mn * 2);
    qk_fill_weights(w, nk, 11);
    qk_fill_activations(x, NULL, m, k, 0, 12);
    qk_weights qw;
    int rc = qk_weights_pack(&kern->packing, &p, w, &qw, &err);
    void *work = qc_alloc(qk_kernel_workspace(kern, &p, &cfg));
    if (!rc)
        rc = qk_gemm(kern, &cfg, &qw, x, m, y, work, &err);
    double e = 1;
    if (!rc) {
        qk_weights_dequant(&qw, wd);
        qk_activations_dequant(&p, x, xd);
        qk_reference_gemm(m, n, k, xd, wd, ref);
        e = qk_relative_error(&p, y, ref, m, NULL, 0, NULL);
    }
    int ok = !rc && e <= qk_error_limit(&p);
    printf("%-6s M=%-4d %5dx%-5d: %-18s %-44s predicted %8.1f us (%s)%s: error %.1e %s\n",
           qbd_host_scheme_names[scheme], m, n, k, kern->name, c.config, c.time_s * 1e6, how[c.source], note, e,
           ok ? "ok" : "WRONG");
    qc_msgs_print(&err, stdout);
    qk_weights_free(&qw);
    free(w), free(wd), free(xd), free(x), free(ref), free(y), free(work);
    qc_msgs_free(&err);
    return !ok;
}

int main(void)
{
    static const struct { int n, k; } layers[] = {{1024, 512}, {512, 1024}, {768, 512}};
    static const int batch[] = {1, 3, 16, 40};
    int bad = 0;
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++)
        for (size_t b = 0; b < sizeof batch / sizeof batch[0]; b++) {
            qbd_host_choice best;
            /* the fastest scheme of the set this engine supports: w4a16, w8a8, fp16 */
            unsigned allowed = (1u << QBD_HOST_W4A16) | (1u << QBD_HOST_W8A8) | (1u << QBD_HOST_FP16);
            if (!qbd_host_best_scheme(allowed, 0, batch[b], layers[l].n, layers[l].k, 128, &best)) {
                printf("no scheme for %dx%d\n", layers[l].n, layers[l].k);
                bad++;
                continue;
            }
            int group = best.scheme == QBD_HOST_W4A16 ? 128 : 0;
            bad += run_layer(best.scheme, batch[b], layers[l].n, layers[l].k, group);
        }
    printf("%d layers wrong\n", bad);
    return bad ? 1 : 0;
}
