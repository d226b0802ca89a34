/* Measuring the host's ceilings into its profile. */
#include <math.h>
#include <string.h>

#include "bench/probe.h"
#include "hardware/ceilings.h"

/* v rounded to `digits` decimals, as the double nearest that decimal (so it prints as such) */
static double round_to(double v, int digits)
{
    double k = pow(10, digits);
    return round(v * k) / k;
}

int qb_probe_host(qp_profile *p, const qh_host *h, int quick, FILE *log, qc_msgs *err)
{
    int counts[2] = {h->threads, 1};
    int nt = h->threads > 1 ? 2 : 1;
    p->measured.threads = h->threads;
    for (int t = 0; t < nt; t++) {
        int threads = counts[t];
        if (log)
            fprintf(log, "qbench: probe: bandwidth by working set on %d thread%s\n", threads, threads == 1 ? "" : "s");
        qh_level_bw lv[QH_LEVEL_COUNT];
        int rc = qh_bandwidth_levels(h, threads, quick, lv, NULL, NULL, err);
        if (rc)
            return rc;
        for (int l = 0; l < QH_LEVEL_COUNT; l++) {
            if (!lv[l].present)
                continue;
            qp_bandwidth b = {.threads = threads, .working_set = (double)lv[l].working_set,
                              .read_gbs = round_to(lv[l].read_gbs, 1), .read_cv = round_to(lv[l].read_cv, 3),
                              .rw_gbs = round_to(lv[l].rw_gbs, 1), .rw_cv = round_to(lv[l].rw_cv, 3)};
            snprintf(b.level, sizeof b.level, "%s", qh_level_name((qh_level)l));
            qp_profile_add_bandwidth(p, &b);
        }
        if (log)
            fprintf(log, "qbench: probe: peak rate per number format on %d thread%s\n", threads,
                    threads == 1 ? "" : "s");
        for (int f = 0; f < QH_FORMAT_COUNT; f++) {
            qh_rate r;
            const char *isa;
            qc_msgs skip = {0}; /* a format this CPU has no path for is simply not measured */
            if (qh_peak((qh_format)f, threads, quick ? 0.05 : 0.25, &r, &isa, &skip) == QC_OK) {
                qp_peak k = {.threads = threads, .gops = round_to(r.median, 1), .cv = round_to(r.cv, 3)};
                snprintf(k.format, sizeof k.format, "%s", qh_format_name((qh_format)f));
                snprintf(k.isa, sizeof k.isa, "%s", isa);
                qp_profile_add_peak(p, &k);
            }
            qc_msgs_free(&skip);
        }
    }
    return QC_OK;
}

void qb_print_ceilings(const qp_profile *p, FILE *f)
{
    fprintf(f, "%-6s %7s %12s %10s %6s %10s %6s\n", "level", "threads", "working set", "read GB/s", "cv",
            "r+w GB/s", "cv");
    for (int i = 0; i < p->measured.n_bw; i++) {
        const qp_bandwidth *b = &p->measured.bw[i];
        char ws[32];
        fprintf(f, "%-6s %7d %12s %10.1f %5.1f%% %10.1f %5.1f%%\n", b->level, b->threads,
                qc_format_bytes(b->working_set, ws, sizeof ws), b->read_gbs, 100 * b->read_cv, b->rw_gbs,
                100 * b->rw_cv);
    }
    fprintf(f, "%-9s %-11s %7s %10s %6s\n", "format", "isa", "threads", "GOP/s", "cv");
    for (int i = 0; i < p->measured.n_peak; i++) {
        const qp_peak *k = &p->measured.peak[i];
        fprintf(f, "%-9s %-11s %7d %10.1f %5.1f%%\n", k->format, k->isa, k->threads, k->gops, 100 * k->cv);
    }
}
