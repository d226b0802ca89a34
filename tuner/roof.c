/* What bounds a point: the one place that answers it. A kernel's registry row names the number
 * format its inner loop computes in; the profile gives that format's peak and the DRAM read
 * bandwidth; the one cost function gives bytes and FLOPs. */
#include <string.h>

#include "tuner/roofline.h"

double qt_predict(const qt_model *m, double bytes, double flops)
{
    if (!(m->bw_gbs > 0) || !(m->peak_gops > 0))
        return 0;
    double tm = bytes / (m->bw_gbs * 1e9), tc = flops / (m->peak_gops * 1e9);
    return m->t0_s + (tm > tc ? tm : tc);
}

const char *qt_bound(const qt_model *m, double bytes, double flops)
{
    return bytes / (m->bw_gbs * 1e9) >= flops / (m->peak_gops * 1e9) ? "memory" : "compute";
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
    double t = qt_predict(&r->model, bytes, flops);
    *attainable_gflops = t > 0 ? flops / t / 1e9 : 0;
    return qt_bound(&r->model, bytes, flops);
}

const qk_kernel *qt_kernel_for(const qp_profile *prof, qk_scheme s)
{
    return qk_kernel_default(s, prof->match.backend == QP_BACKEND_CUDA);
}

int qt_model_of(const qp_profile *prof, const qk_kernel *k, const qk_config *cfg, qt_model *m, const char **basis)
{
    const qp_fit_model *f = qp_profile_fit(prof, qk_scheme_name(k->scheme));
    if (f) {
        *m = (qt_model){f->bw_gbs, f->peak_gops, f->t0_s};
        *basis = "fit";
        return m->bw_gbs > 0 && m->peak_gops > 0;
    }
    qt_roof r;
    int ok = qt_roof_of(prof, k, cfg, &r);
    *m = r.model;
    *basis = r.source;
    return ok;
}
