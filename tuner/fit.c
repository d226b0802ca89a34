/* The roofline fit: Nelder–Mead on (ln BW, ln P, ln t0) with a Huber loss in log space. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qk.h"
#include "tuner/roofline.h"

typedef struct data {
    const double *b, *f, *t;
    int n;
} data;

static const double DELTA = 0.05; /* Huber: quadratic within 5%, linear beyond */

static double loss(const data *d, const double x[3])
{
    qt_model m = {exp(x[0]), exp(x[1]), exp(x[2])};
    double s = 0;
    for (int i = 0; i < d->n; i++) {
        double r = fabs(log(d->t[i]) - log(qt_predict(&m, d->b[i], d->f[i])));
        s += r <= DELTA ? 0.5 * r * r : DELTA * (r - 0.5 * DELTA);
    }
    return s;
}

/* Nelder–Mead with the standard coefficients; returns the best point in x. */
static void nelder_mead(const data *d, double x[3], double step)
{
    double p[4][3], fv[4];
    for (int i = 0; i < 4; i++) {
        memcpy(p[i], x, sizeof p[i]);
        if (i)
            p[i][i - 1] += step;
        fv[i] = loss(d, p[i]);
    }
    for (int it = 0; it < 20000; it++) {
        /* order */
        for (int i = 1; i < 4; i++)
            for (int j = i; j > 0 && fv[j] < fv[j - 1]; j--) {
                double t = fv[j];
                fv[j] = fv[j - 1];
                fv[j - 1] = t;
                double q[3];
                memcpy(q, p[j], sizeof q);
                memcpy(p[j], p[j - 1], sizeof q);
                memcpy(p[j - 1], q, sizeof q);
            }
        double spread = 0;
        for (int i = 1; i < 4; i++)
            for (int c = 0; c < 3; c++)
                spread = fmax(spread, fabs(p[i][c] - p[0][c]));
        if (spread < 1e-10)
            break;
        double cen[3] = {0};
        for (int i = 0; i < 3; i++)
            for (int c = 0; c < 3; c++)
                cen[c] += p[i][c] / 3;
        double r[3], e[3], k[3];
        for (int c = 0; c < 3; c++)
            r[c] = cen[c] + (cen[c] - p[3][c]);
        double fr = loss(d, r);
        if (fr < fv[0]) {
            for (int c = 0; c < 3; c++)
                e[c] = cen[c] + 2 * (cen[c] - p[3][c]);
            double fe = loss(d, e);
            memcpy(p[3], fe < fr ? e : r, sizeof r);
            fv[3] = fe < fr ? fe : fr;
        } else if (fr < fv[2]) {
            memcpy(p[3], r, sizeof r);
            fv[3] = fr;
        } else {
            for (int c = 0; c < 3; c++)
                k[c] = cen[c] + 0.5 * ((fr < fv[3] ? r[c] : p[3][c]) - cen[c]);
            double fk = loss(d, k);
            if (fk < fmin(fr, fv[3])) {
                memcpy(p[3], k, sizeof k);
                fv[3] = fk;
            } else { /* shrink towards the best */
                for (int i = 1; i < 4; i++) {
                    for (int c = 0; c < 3; c++)
                        p[i][c] = p[0][c] + 0.5 * (p[i][c] - p[0][c]);
                    fv[i] = loss(d, p[i]);
                }
            }
        }
    }
    int best = 0;
    for (int i = 1; i < 4; i++)
        if (fv[i] < fv[best])
            best = i;
    memcpy(x, p[best], sizeof p[best]);
}

int qt_fit(const double *bytes, const double *flops, const double *time_s, int n, qt_model *out, double *residual,
           qc_msgs *err)
{
    memset(out, 0, sizeof *out);
    int valid = 0;
    double bw = 0, peak = 0, tmin = INFINITY;
    for (int i = 0; i < n; i++)
        if (time_s[i] > 0 && bytes[i] > 0 && flops[i] > 0) {
            valid++;
            bw = fmax(bw, bytes[i] / time_s[i]);
            peak = fmax(peak, flops[i] / time_s[i]);
            tmin = fmin(tmin, time_s[i]);
        }
    if (valid < 3 || valid != n) {
        qc_msgs_addf(err, "a roofline fit needs at least 3 points, all with positive time, bytes and operations "
                          "(got %d usable of %d)", valid, n);
        return QC_EINPUT;
    }
    data d = {bytes, flops, time_s, n};
    /* start from the envelope: the best observed rates, and a small fixed cost; restart until
     * the simplex settles (Nelder–Mead can stall on a kink of the max) */
    double x[3] = {log(bw / 1e9), log(peak / 1e9), log(0.1 * tmin)};
    for (int round = 0; round < 8; round++)
        nelder_mead(&d, x, round == 0 ? 0.5 : 0.05);
    out->bw_gbs = exp(x[0]);
    out->peak_gops = exp(x[1]);
    out->t0_s = exp(x[2]);
    double ss = 0;
    for (int i = 0; i < n; i++) {
        double r = log(time_s[i]) - log(qt_predict(out, bytes[i], flops[i]));
        ss += r * r;
    }
    *residual = sqrt(ss / n);
    return QC_OK;
}

void qt_fit_schemes(const qt_obs *obs, int n, qt_scheme_fit fits[], qc_msgs *err)
{
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        fits[s] = (qt_scheme_fit){.scheme = s};
        double *b = malloc(sizeof(double) * (size_t)(n + 1)), *f = malloc(sizeof(double) * (size_t)(n + 1)),
               *t = malloc(sizeof(double) * (size_t)(n + 1));
        int c = 0;
        for (int i = 0; i < n; i++)
            if (obs[i].p.scheme == (qk_scheme)s && obs[i].time_s > 0) {
                b[c] = obs[i].bytes;
                f[c] = obs[i].flops;
                t[c] = obs[i].time_s;
                c++;
            }
        if (c >= 3 && qt_fit(b, f, t, c, &fits[s].model, &fits[s].residual, err) == QC_OK) {
            fits[s].present = 1;
            fits[s].n = c;
        }
        free(b);
        free(f);
        free(t);
    }
}

/* a's predicted time minus b's, at M = m */
static double diff_at(const qt_model *ma, const qk_problem *a, const qt_model *mb, const qk_problem *b, int m)
{
    qk_problem pa = *a, pb = *b;
    pa.m = pb.m = m;
    qk_cost ca = qk_problem_cost(&pa), cb = qk_problem_cost(&pb);
    return qt_predict(ma, ca.bytes, ca.flops) - qt_predict(mb, cb.bytes, cb.flops);
}

int qt_crossover(const qt_model *ma, const qk_problem *a, const qt_model *mb, const qk_problem *b, int max_m,
                 int *direction)
{
    double d1 = diff_at(ma, a, mb, b, 1);
    *direction = d1 < 0 ? +1 : -1; /* a faster at M = 1: a→b */
    int lo = 1, hi = 0;
    for (int m = 2; m <= max_m; m *= 2) {
        if ((diff_at(ma, a, mb, b, m) < 0) != (d1 < 0)) {
            hi = m;
            break;
        }
        lo = m;
    }
    if (!hi)
        return 0;
    while (hi - lo > 1) { /* the first M where the order has changed */
        int mid = lo + (hi - lo) / 2;
        if ((diff_at(ma, a, mb, b, mid) < 0) != (d1 < 0))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}
