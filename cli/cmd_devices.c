/* qbench devices: the local devices and the profile that matches each. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hardware/counters.h"
#include "hardware/hardware.h"
#include "profiles/profile.h"

static const char help[] =
    "usage: qbench devices\n\n"
    "Lists the local devices: the host CPU (identity, SIMD features, topology from hwloc,\n"
    "which PAPI counters can be read) and each CUDA GPU (name, SMs, compute capability,\n"
    "memory, L2, clocks, theoretical bandwidth), with the profile that matches each.\n"
    "No CUDA device is a normal answer, shown with its reason.\n";

static void print_matches(const qp_catalog *cat, qp_backend b, const char *name, int ccmaj, int ccmin,
                          const char *fallback)
{
    int any = 0;
    for (int i = 0; i < cat->n; i++) {
        const qp_entry *e = &cat->v[i];
        if (e->profile && !e->shadowed && qp_profile_matches(e->profile, b, name, ccmaj, ccmin)) {
            printf("%s%s (%s)", any ? ", " : "  profile:  ", e->profile->name, e->path);
            any = 1;
        }
    }
    printf(any ? "\n" : "  profile:  %s\n", fallback);
}

static void print_counters(void)
{
    qc_msgs err = {0};
    qh_counters *c;
    if (qh_counters_create(&c, qh_cpu_events, qh_n_cpu_events, &err) != QC_OK) {
        qc_msgs_print(&err, stdout);
        qc_msgs_free(&err);
        return;
    }
    qh_counters_start(c);
    volatile double x = 0; /* work to count */
    for (int i = 0; i < 100000; i++)
        x = x + i;
    qh_counters_stop(c);
    printf("  counters: %s\n", qh_counters_backend());
    for (int i = 0; i < qh_counters_count(c); i++) {
        const qh_counter *k = qh_counters_get(c, i);
        if (k->available)
            printf("            %-18s available\n", k->name);
        else
            printf("            %-18s unavailable: %s\n", k->name, k->reason);
    }
    qh_counters_destroy(c);
}

int cmd_devices(int argc, char **argv)
{
    int rc = cli_help_only(argc, argv, help);
    if (rc >= 0)
        return rc;
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);

    qc_msgs err = {0};
    qh_host h;
    if (qh_host_discover(&h, &err) != QC_OK)
        return cli_fail(&err, QC_ERUNTIME);
    qh_cuda cuda;
    qh_cuda_discover(&cuda);
    qp_catalog cat;
    qp_catalog_load(&cat);

    char b1[32];
    printf("host  cpu   %s\n", h.cpu.model);
    printf("  vendor:   %s, family %d model %d stepping %d\n", h.cpu.vendor, h.cpu.family, h.cpu.model_id,
           h.cpu.stepping);
    char b2[32];
    printf("  topology: %d package%s, %d core%s, %d thread%s (hwloc %s)\n", h.packages, h.packages == 1 ? "" : "s",
           h.cores, h.cores == 1 ? "" : "s", h.threads, h.threads == 1 ? "" : "s", h.hwloc_version);
    printf("  memory:   %s; %d NUMA node%s holding %s\n", qc_format_bytes((double)h.memory, b1, sizeof b1),
           h.numa_nodes, h.numa_nodes == 1 ? "" : "s", qc_format_bytes((double)h.numa_memory_total, b2, sizeof b2));
    for (int i = 0; i < h.n_caches; i++) {
        const qh_cache *c = &h.caches[i];
        printf("  L%d%-7s %s x %d, %u-byte lines, each shared by %d thread%s\n", c->level,
               c->kind == 'i' ? "i:" : c->kind == 'd' ? "d:" : ":", qc_format_bytes((double)c->size, b1, sizeof b1),
               c->instances, c->line_size, c->threads_sharing, c->threads_sharing == 1 ? "" : "s");
    }
    printf("  simd:    ");
    for (int f = 0; f < QH_FEATURE_COUNT; f++)
        if (qh_cpu_has(&h.cpu, f))
            printf(" %s", qh_feature_name(f));
    printf("\n");
    print_counters();
    print_matches(&cat, QP_BACKEND_CPU, h.cpu.model, -1, -1,
                  "host (built-in, generated from this machine; no shipped profile matches this CPU)");

    if (cuda.n == 0)
        printf("\ncuda  none  %s\n", cuda.reason);
    for (int i = 0; i < cuda.n; i++) {
        const qh_cuda_device *d = &cuda.dev[i];
        printf("\ncuda:%d gpu  %s\n", d->index, d->name);
        printf("  compute capability %d.%d, %d SMs, %s memory, %s L2\n", d->cc_major, d->cc_minor, d->sms,
               qc_format_bytes((double)d->memory, b1, sizeof b1), qc_format_bytes((double)d->l2_size, b2, sizeof b2));
        printf("  clocks: SM %.0f MHz, memory %.0f MHz, %d-bit bus: %.0f GB/s theoretical\n", d->clock_khz / 1e3,
               d->mem_clock_khz / 1e3, d->bus_width, d->bandwidth_gbs);
        char fallback[160];
        snprintf(fallback, sizeof fallback, "none shipped (qbench probe --device cuda:%d writes one)", d->index);
        print_matches(&cat, QP_BACKEND_CUDA, d->name, d->cc_major, d->cc_minor, fallback);
    }
    qp_catalog_free(&cat);
    qc_msgs_free(&err);
    return 0;
}
