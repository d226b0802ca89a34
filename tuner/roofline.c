/* The roofline model. */
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
