/* What bounds a point: the one place that answers it. A kernel's registry row names the number
 * format its inner loop computes in; the profile gives that format's peak and the DRAM read
 * bandwidth; the one cost function gives bytes and FLOPs. */
#include <string.h>

#include "tuner/roofline.h"

int qt_passes(int m, int mr)
{
    return mr <= 1 || m <= 0 ? 1 : (m + mr - 1) / mr;
}

/* The compute side's seconds: the operations at the peak, and the decoding of N·K weights per pass. */
static double compute_s(const qt_model *m, double flops, int M)
{
    double t = flops / (m->peak_gops * 1e9);
    if (m->decode_gws > 0 && M > 0)
        t += qt_passes(M, m->mr) * (flops / (2.0 * M)) / (m->decode_gws * 1e9);
    return t;
}

double qt_combine(double tm, double tc, double exposed)
{
    return tm > tc ? tm + exposed * tc : tc + exposed * tm;
}

double qt_predict(const qt_model *m, double bytes, double flops, int M)
{
    if (!(m->bw_gbs > 0) || !(m->peak_gops > 0))
        return 0;
    return m->t0_s + qt_combine(bytes / (m->bw_gbs * 1e9), compute_s(m, flops, M), m->exposed);
}

const char *qt_bound(const qt_model *m, double bytes, double flops, int M)
{
    return bytes / (m->bw_gbs * 1e9) >= compute_s(m, flops, M) ? "memory" : "compute";
}

int qt_roof_of(const qp_profile *prof, const qk_kernel *k, const qk_config *cfg, qt_roof *out)
{
    memset(out, 0, sizeof *out);
    const char *format = qk_kernel_format(k, cfg), *sb, *sp;
    out->threads = qk_config_get(k, cfg, "threads", 0);
    snprintf(out->format, sizeof out->format, "%s", format);
    out->model.bw_gbs = qp_profile_bandwidth_gbs(prof, "DRAM", out->threads, &sb);
    out->model.peak_gops = qp_profile_peak_gops(prof, format, out->threads, &sp);
    out->source = !strcmp(sb, sp) ? sb : "measured+spec";
    return out->model.bw_gbs > 0 && out->model.peak_gops > 0;
}

const char *qt_place(const qt_roof *r, double bytes, double flops, double *attainable_gflops)
{
    double t = qt_predict(&r->model, bytes, flops, 0);
    *attainable_gflops = t > 0 ? flops / t / 1e9 : 0;
    return qt_bound(&r->model, bytes, flops, 0);
}

const qk_kernel *qt_kernel_for(const qp_profile *prof, qk_scheme s)
{
    return qk_kernel_default(s, prof->match.backend == QP_BACKEND_CUDA);
}

int qt_model_of(const qp_profile *prof, const qp_profile *eff, const qk_kernel *k, const qk_config *cfg, qt_model *m,
                char *basis, size_t basis_len)
{
    qt_roof r;
    int ok = qt_roof_of(prof, k, cfg, &r);
    *m = r.model;
    const qp_profile *src = eff ? eff : prof;
    const qp_fit_model *f = qp_profile_fit(src, k->name, r.format, r.threads);
    if (ok && f) {
        m->bw_gbs *= f->mem_eff;
        m->peak_gops *= f->comp_eff;
        m->decode_gws = f->decode_gws;
        m->exposed = f->exposed;
        m->t0_s = src->fit.t0_s;
        m->mr = qk_kernel_tile_rows(k, cfg);
        if (src == prof)
            snprintf(basis, basis_len, "fit");
        else
            snprintf(basis, basis_len, "fit of %s on %s's %s ceilings", src->name, prof->name, r.source);
        return 1;
    }
    snprintf(basis, basis_len, "%s", r.source);
    return ok;
}
