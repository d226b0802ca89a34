/* Measuring a local device's ceilings into its profile: the probe stage of the pipeline. The
 * micro-benchmarks are hardware/'s; this file names what they measured in the profile's terms. */
#include <math.h>
#include <string.h>

#include "hardware/ceilings.h"
#include "hardware/cuda_ceilings.h"
#include "hardware/hardware.h"
#include "profiles/profile.h"

/* v rounded to `digits` decimals, as the double nearest that decimal (so it prints as such) */
static double round_to(double v, int digits)
{
    double k = pow(10, digits);
    return round(v * k) / k;
}

enum { PHASE_WAIT_S = 1 }; /* per thread count, 4 peak rounds and the bandwidth levels: 1 s each at most */

/* Peak rounds: each format's peak is measured this many times, half of them before the
 * bandwidth levels and half after, seconds apart; the round with the highest median stands. A
 * shared machine's slow phase (on a VM, two virtual CPUs on one core) lasts seconds, and a
 * ceiling is what the hardware does outside it: one round caught a 2-thread fp32 peak of 118
 * GOP/s against 236. */
enum { PEAK_ROUNDS = 4 };

/* One round of every format's peak on `threads`, each kept where its median beats the best so far
 * (best[f].reps 0: none yet); the usual phase waited for once a round (the rounds themselves
 * outlast a slow phase). */
static void peak_round(qh_sentinel *ph, int threads, int quick, qh_rate *best, const char **isa)
{
    if (ph)
        qh_sentinel_wait(ph, PHASE_WAIT_S);
    for (int f = 0; f < QH_FORMAT_COUNT; f++) {
        qh_rate r;
        qc_msgs skip = {0}; /* a format this CPU has no path for is simply not measured */
        if (qh_peak((qh_format)f, threads, quick ? 0.05 : 0.25, &r, &isa[f], &skip) == QC_OK &&
            (!best[f].reps || r.median > best[f].median))
            best[f] = r;
        qc_msgs_free(&skip);
    }
}

int qp_probe_host(qp_profile *p, const qh_host *h, int quick, FILE *log, qc_msgs *err)
{
    int counts[2] = {h->threads, 1};
    int nt = h->threads > 1 ? 2 : 1;
    p->measured.threads = h->threads;
    for (int t = 0; t < nt; t++) {
        int threads = counts[t];
        /* each measurement in the machine's usual phase, as the sweep's points are */
        qh_sentinel *ph = qh_sentinel_create(qh_host_llc_bytes(h), threads);
        if (log)
            fprintf(log, "qbench: probe: peak rate per number format on %d thread%s, in %d rounds\n", threads,
                    threads == 1 ? "" : "s", PEAK_ROUNDS);
        qh_rate best[QH_FORMAT_COUNT] = {0};
        const char *isa[QH_FORMAT_COUNT];
        for (int i = 0; i < PEAK_ROUNDS / 2; i++)
            peak_round(ph, threads, quick, best, isa);
        if (log)
            fprintf(log, "qbench: probe: bandwidth by working set on %d thread%s\n", threads, threads == 1 ? "" : "s");
        if (ph)
            qh_sentinel_wait(ph, PHASE_WAIT_S);
        qh_level_bw lv[QH_LEVEL_COUNT];
        int rc = qh_bandwidth_levels(h, threads, quick, lv, NULL, NULL, err);
        if (rc) {
            qh_sentinel_free(ph);
            return rc;
        }
        for (int l = 0; l < QH_LEVEL_COUNT; l++) {
            if (!lv[l].present)
                continue;
            qp_bandwidth b = {.threads = threads, .working_set = (double)lv[l].working_set,
                              .read_gbs = round_to(lv[l].read_gbs, 1), .read_cv = round_to(lv[l].read_cv, 3),
                              .rw_gbs = round_to(lv[l].rw_gbs, 1), .rw_cv = round_to(lv[l].rw_cv, 3)};
            snprintf(b.level, sizeof b.level, "%s", qh_level_name((qh_level)l));
            qp_profile_add_bandwidth(p, &b);
        }
        for (int i = PEAK_ROUNDS / 2; i < PEAK_ROUNDS; i++)
            peak_round(ph, threads, quick, best, isa);
        for (int f = 0; f < QH_FORMAT_COUNT; f++) {
            if (!best[f].reps)
                continue;
            qp_peak k = {.threads = threads, .gops = round_to(best[f].median, 1), .cv = round_to(best[f].cv, 3)};
            snprintf(k.format, sizeof k.format, "%s", qh_format_name((qh_format)f));
            snprintf(k.isa, sizeof k.isa, "%s", isa[f]);
            qp_profile_add_peak(p, &k);
        }
        qh_sentinel_free(ph);
    }
    return QC_OK;
}

int qp_probe_cuda(qp_profile *p, int index, int cc_major, int cc_minor, int quick, FILE *log, qc_msgs *err)
{
    const double t = quick ? 0.2 : 1.0;
    const size_t l2 = qh_cuda_l2_size(index), big = (size_t)(quick ? 1 : 2) << 30;
    p->measured.threads = 1;
    struct { const char *level; size_t read, copy; } lv[] = {{"L2", l2 / 2, l2 / 4}, {"DRAM", big, big / 2}};
    for (int i = 0; i < 2; i++) {
        if (!lv[i].read)
            continue;
        if (log)
            fprintf(log, "qbench: probe: %s bandwidth (read, copy)\n", lv[i].level);
        qh_rate r, c;
        int rc = qh_cuda_read_bandwidth(index, lv[i].read, t, &r, err);
        if (!rc)
            rc = qh_cuda_copy_bandwidth(index, lv[i].copy, t, &c, err);
        if (rc)
            return rc;
        qp_bandwidth b = {.threads = 1, .working_set = (double)lv[i].read, .read_gbs = round_to(r.median, 1),
                          .read_cv = round_to(r.cv, 3), .rw_gbs = round_to(c.median, 1), .rw_cv = round_to(c.cv, 3)};
        snprintf(b.level, sizeof b.level, "%s", lv[i].level);
        qp_profile_add_bandwidth(p, &b);
    }
    const char *formats[] = {"fp16_tensor", "int8_tensor", "fp8_tensor"};
    for (int i = 0; i < 3; i++) {
        if (i == 2 && (cc_major * 10 + cc_minor) < 89)
            continue; /* fp8 tensor cores: Ada (8.9) and Hopper (9.0) onwards */
        if (log)
            fprintf(log, "qbench: probe: %s peak (cuBLASLt, %d^3)\n", formats[i], quick ? 4096 : 8192);
        qh_rate r;
        int rc = qh_cuda_tensor_peak(index, formats[i], quick ? 4096 : 8192, t, &r, err);
        if (rc)
            return rc;
        qp_peak k = {.threads = 1, .gops = round_to(r.median, 1), .cv = round_to(r.cv, 3)};
        snprintf(k.format, sizeof k.format, "%s", formats[i]);
        snprintf(k.isa, sizeof k.isa, "cublaslt");
        qp_profile_add_peak(p, &k);
    }
    return QC_OK;
}

void qp_print_ceilings(const qp_profile *p, FILE *f)
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
    /* beside the datasheet, where the profile has one */
    static const struct { qp_spec_id id; const char *what; double scale; } spec[] = {
        {QP_MEMORY_BANDWIDTH_GBS, "memory bandwidth GB/s", 1}, {QP_FP16_TFLOPS, "fp16 tensor GOP/s", 1000},
        {QP_INT8_TOPS, "int8 tensor GOP/s", 1000}, {QP_FP8_TFLOPS, "fp8 tensor GOP/s", 1000}};
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++)
        if (p->spec[spec[i].id].present)
            fprintf(f, "spec: %-22s %10.1f  (%s)\n", spec[i].what, p->spec[spec[i].id].value * spec[i].scale,
                    p->spec[spec[i].id].source);
}
