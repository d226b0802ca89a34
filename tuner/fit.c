/* The fit: per kernel (at a thread count and a number format), the share of the probed DRAM read
 * and of the format's peak it reaches, the rate it decodes weights per pass of its register
 * tile and the share of the shorter side it leaves exposed, with one fixed cost per device;
 * Huber loss in log space
 * (small and large calls weigh alike, an outlier does not pull). Then what the model is worth:
 * its errors in sample, leaving each shape out in turn, and on held-out points. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/roofline.h"

static const double DELTA = 0.05;  /* Huber: quadratic within 5%, linear beyond */
static const double EMIN = 0.005;  /* the smallest efficiency considered */

/* ------------------------------------------------------------------ errors */

/* A point's error, the observation it is and what the model predicted there */
typedef struct err_at {
    double e, predicted_s;
    int obs;
} err_at;

static int cmp_err(const void *a, const void *b)
{
    double x = ((const err_at *)a)->e, y = ((const err_at *)b)->e;
    return x < y ? -1 : x > y;
}

static qt_errors errors_of(err_at *e, int n)
{
    qt_errors r = {.n = n};
    if (!n)
        return r;
    qsort(e, (size_t)n, sizeof *e, cmp_err);
    r.median = n % 2 ? e[n / 2].e : 0.5 * (e[n / 2 - 1].e + e[n / 2].e);
    r.max = e[n - 1].e;
    r.worst = e[n - 1].obs + 1;
    r.worst_predicted_s = e[n - 1].predicted_s;
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += e[i].e * e[i].e;
    r.rms = sqrt(ss / n);
    return r;
}

/* ------------------------------------------------------------------ the points of one kernel */

typedef struct pt {
    double b, f, t, bw, peak;
    double pass_w;    /* weights decoded in all: ⌈M/mr⌉ · N · K */
    int shape;        /* an index among the kernel's distinct N × K */
    int obs;          /* the observation it is */
} pt;

/* The parameters of one kernel: ln e_mem, ln e_comp, the decoding's seconds per weight
 * pass as ln (1e-12 s · e^w) (w at its floor: decoding costs nothing), and x, the share of the
 * shorter side that the longer does not hide. */
typedef struct effs {
    double u, v, w, x;
} effs;

static const double W_LO = -1, W_HI = 16; /* 1e-12·e^w s: from 0.37 ps (2.7 T weights/s) to 9 ns */

static double decode_s(double w) { return w <= W_LO ? 0 : 1e-12 * exp(w); }

static double model_time(const pt *p, double t0, const effs *e)
{
    double tm = p->b / (exp(e->u) * p->bw * 1e9), tc = p->f / (exp(e->v) * p->peak * 1e9) + p->pass_w * decode_s(e->w);
    return t0 + qt_combine(tm, tc, e->x);
}

/* |predicted − measured| / measured at the point, with the prediction */
static err_at rel_error(const pt *p, double t0, const effs *e)
{
    const double m = model_time(p, t0, e);
    return (err_at){fabs(m - p->t) / p->t, m, p->obs};
}

/* The errors on v[0 .. n) (each into e[i], and appended to per[*cnt ..]) */
static qt_errors errors_on(const pt *v, int n, double t0, const effs *ef, err_at *e, err_at *per, int *cnt)
{
    for (int i = 0; i < n; i++)
        per[(*cnt)++] = e[i] = rel_error(&v[i], t0, ef);
    return errors_of(e, n);
}

/* The loss over the points, leaving shape `skip` out (−1: none). */
static double loss(const pt *p, int n, double t0, const effs *e, int skip)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].shape == skip)
            continue;
        double r = fabs(log(p[i].t) - log(model_time(&p[i], t0, e)));
        s += r <= DELTA ? 0.5 * r * r : DELTA * (r - 0.5 * DELTA);
    }
    return s;
}

/* The best parameters: e_mem and e_comp in [EMIN, 1], the decode cost from none to 9 ns a
 * weight, the exposed share in [0, 1]; a grid (in log space but the last; or, from `start`, a
 * nearer look), then a pattern search. */
static double fit_effs(const pt *p, int n, double t0, int skip, const effs *start, effs *out)
{
    enum { GRID = 13, WGRID = 8, XGRID = 4 };
    const double lo = log(EMIN);
    double step0 = -lo / (GRID - 1), wstep0 = (W_HI - W_LO) / WGRID, xstep0 = 1.0 / XGRID;
    effs best_e = {0, 0, W_LO, 0};
    double best = INFINITY;
    if (start) {
        best_e = *start;
        best = loss(p, n, t0, start, skip);
        step0 /= 4, wstep0 /= 4, xstep0 /= 4;
    } else {
        for (int i = 0; i < GRID; i++)
            for (int j = 0; j < GRID; j++)
                for (int k = 0; k <= WGRID; k++)
                    for (int h = 0; h <= XGRID; h++) {
                        effs e = {lo + i * step0, lo + j * step0, W_LO + k * wstep0, h * xstep0};
                        double l = loss(p, n, t0, &e, skip);
                        if (l < best)
                            best = l, best_e = e;
                    }
    }
    for (double st = step0 / 2, wst = wstep0 / 2, xst = xstep0 / 2; st > 1e-5; st /= 2, wst /= 2, xst /= 2)
        for (int moved = 1; moved;) {
            moved = 0;
            for (int d = 0; d < 81; d++) {
                if (d == 40)
                    continue; /* the centre */
                effs e = {fmin(0, fmax(lo, best_e.u + (d % 3 - 1) * st)),
                          fmin(0, fmax(lo, best_e.v + (d / 3 % 3 - 1) * st)),
                          fmin(W_HI, fmax(W_LO, best_e.w + (d / 9 % 3 - 1) * wst)),
                          fmin(1, fmax(0, best_e.x + (d / 27 - 1) * xst))};
                double l = loss(p, n, t0, &e, skip);
                if (l < best - 1e-15)
                    best = l, best_e = e, moved = 1;
            }
        }
    *out = best_e;
    return best;
}

/* ------------------------------------------------------------------ the kernels */

typedef struct group {
    qt_kfit k;
    effs e;      /* its best parameters so far */
    pt *p;       /* fitted points */
    int n, cap;
    pt *h;       /* held-out points */
    int nh, caph;
    pt *u;       /* points timed outside the usual phase */
    int nu, capu;
    qk_problem *shape; /* distinct N × K */
} group;

/* The loss of every kernel with 2 points or more, each at its best efficiencies at t0 (searched
 * near each kernel's last best, which is updated). */
static double total_loss(group *g, int ng, double t0)
{
    double l = 0;
    for (int j = 0; j < ng; j++)
        if (g[j].n >= 2)
            l += fit_effs(g[j].p, g[j].n, t0, -1, &g[j].e, &g[j].e);
    return l;
}

static void push(pt **v, int *n, int *cap, pt x)
{
    if (*n == *cap)
        *v = qc_xrealloc(*v, sizeof **v * (size_t)(*cap = *cap ? 2 * *cap : 16));
    (*v)[(*n)++] = x;
}

static int same_problem(const qk_problem *a, const qk_problem *b)
{
    return qt_same_key(a, b) && a->m == b->m;
}

/* Is obs i the fastest configuration of its (kernel, threads, format, problem)? */
static int fastest(const qt_obs *obs, int n, int i)
{
    for (int j = 0; j < n; j++)
        if (j != i && obs[j].time_s > 0 && obs[j].holdout == obs[i].holdout && obs[j].unusual == obs[i].unusual &&
            obs[j].threads == obs[i].threads &&
            !strcmp(obs[j].kernel, obs[i].kernel) && !strcmp(obs[j].format, obs[i].format) &&
            same_problem(&obs[j].p, &obs[i].p) && (obs[j].time_s < obs[i].time_s || (obs[j].time_s == obs[i].time_s && j < i)))
            return 0;
    return 1;
}

int qt_fit_kernels(const qt_obs *obs, int n, qt_fitted *out, qc_msgs *err)
{
    memset(out, 0, sizeof *out);
    group *g = qc_xcalloc((size_t)n + 1, sizeof *g);
    int ng = 0;
    double tmin = INFINITY;
    for (int i = 0; i < n; i++) {
        const qt_obs *o = &obs[i];
        if (!(o->time_s > 0 && o->bw_gbs > 0 && o->peak_gops > 0 && o->bytes > 0 && o->flops > 0) ||
            !fastest(obs, n, i))
            continue;
        group *gr = NULL;
        for (int j = 0; j < ng && !gr; j++)
            if (g[j].k.threads == o->threads && !strcmp(g[j].k.kernel, o->kernel) && !strcmp(g[j].k.format, o->format))
                gr = &g[j];
        if (!gr) {
            gr = &g[ng++];
            snprintf(gr->k.kernel, sizeof gr->k.kernel, "%s", o->kernel);
            snprintf(gr->k.format, sizeof gr->k.format, "%s", o->format);
            gr->k.scheme = o->p.scheme;
            gr->k.threads = o->threads;
            gr->shape = qc_xcalloc((size_t)n + 1, sizeof *gr->shape);
        }
        int sh = 0;
        while (sh < gr->k.shapes && !(gr->shape[sh].n == o->p.n && gr->shape[sh].k == o->p.k))
            sh++;
        if (sh == gr->k.shapes && !o->holdout && !o->unusual)
            gr->shape[gr->k.shapes++] = o->p;
        pt x = {o->bytes, o->flops, o->time_s, o->bw_gbs, o->peak_gops,
                (double)qt_passes(o->p.m, o->mr) * o->p.n * o->p.k, o->holdout || o->unusual ? -2 : sh, i};
        if (o->unusual) {
            push(&gr->u, &gr->nu, &gr->capu, x);
        } else if (o->holdout) {
            push(&gr->h, &gr->nh, &gr->caph, x);
        } else {
            push(&gr->p, &gr->n, &gr->cap, x);
            tmin = fmin(tmin, o->time_s);
        }
    }
    int fittable = 0;
    for (int j = 0; j < ng; j++)
        fittable += g[j].n >= 2;
    if (!fittable) {
        qc_msgs_addf(err, "no kernel has 2 timed points with ceilings to fit (sweep more M values, on a device whose "
                          "profile has measured ceilings)");
        for (int j = 0; j < ng; j++)
            free(g[j].p), free(g[j].h), free(g[j].u), free(g[j].shape);
        free(g);
        return QC_EINPUT;
    }
    /* the device's fixed cost: the best of a grid under the fastest call, then a golden-section
     * search between the grid's neighbours; each kernel's parameters searched from a grid once,
     * then near their last best */
    for (int j = 0; j < ng; j++)
        if (g[j].n >= 2)
            fit_effs(g[j].p, g[j].n, 0.25 * tmin, -1, NULL, &g[j].e);
    enum { T0_GRID = 24 };
    double best_t0 = 0, best = INFINITY;
    int bi = 0;
    for (int i = 0; i < T0_GRID; i++) {
        double t0 = tmin * (i / (double)T0_GRID) * (i / (double)T0_GRID), l = total_loss(g, ng, t0);
        if (l < best)
            best = l, best_t0 = t0, bi = i;
    }
    double lo = tmin * pow((bi > 0 ? bi - 1 : 0) / (double)T0_GRID, 2), hi = tmin * pow((bi + 1) / (double)T0_GRID, 2);
    const double phi = (sqrt(5.0) - 1) / 2;
    double x1 = hi - phi * (hi - lo), x2 = lo + phi * (hi - lo), f1 = total_loss(g, ng, x1), f2 = total_loss(g, ng, x2);
    for (int it = 0; it < 24; it++) {
        if (f1 < f2) {
            hi = x2, x2 = x1, f2 = f1;
            x1 = hi - phi * (hi - lo);
            f1 = total_loss(g, ng, x1);
        } else {
            lo = x1, x1 = x2, f1 = f2;
            x2 = lo + phi * (hi - lo);
            f2 = total_loss(g, ng, x2);
        }
    }
    if (fmin(f1, f2) < best)
        best_t0 = f1 < f2 ? x1 : x2;
    out->t0_s = best_t0;
    /* each kernel: its efficiencies, its errors in sample, leaving a shape out, held out, and
     * outside the usual phase */
    err_at **per = qc_xcalloc(4 * QK_SCHEME_COUNT, sizeof *per);
    int cnt[4 * QK_SCHEME_COUNT] = {0};
    for (int s = 0; s < 4 * QK_SCHEME_COUNT; s++)
        per[s] = qc_xcalloc((size_t)n + 1, sizeof **per);
    out->v = qc_xcalloc((size_t)ng + 1, sizeof *out->v);
    err_at *e = qc_xcalloc((size_t)n + 1, sizeof *e);
    double *ceil_b = qc_xcalloc((size_t)n + 1, sizeof *ceil_b), *ceil_p = qc_xcalloc((size_t)n + 1, sizeof *ceil_p);
    for (int j = 0; j < ng; j++) {
        group *gr = &g[j];
        if (gr->n < 2)
            continue;
        qt_kfit *k = &gr->k;
        const int s = k->scheme;
        effs ef;
        fit_effs(gr->p, gr->n, best_t0, -1, NULL, &ef);
        k->mem_eff = exp(ef.u);
        k->comp_eff = exp(ef.v);
        k->decode_gws = decode_s(ef.w) > 0 ? 1e-9 / decode_s(ef.w) : 0;
        k->exposed = ef.x;
        for (int i = 0; i < gr->n; i++)
            ceil_b[i] = gr->p[i].bw, ceil_p[i] = gr->p[i].peak;
        k->fit = errors_on(gr->p, gr->n, best_t0, &ef, e, per[s], &cnt[s]);
        k->bw_gbs = qc_summarize(ceil_b, gr->n).median;
        k->peak_gops = qc_summarize(ceil_p, gr->n).median;
        int ncv = 0;
        if (k->shapes >= 2)
            for (int sh = 0; sh < k->shapes; sh++) {
                effs ecv;
                fit_effs(gr->p, gr->n, best_t0, sh, &ef, &ecv);
                for (int i = 0; i < gr->n; i++)
                    if (gr->p[i].shape == sh) {
                        e[ncv] = rel_error(&gr->p[i], best_t0, &ecv);
                        per[QK_SCHEME_COUNT + s][cnt[QK_SCHEME_COUNT + s]++] = e[ncv++];
                    }
            }
        k->cv = errors_of(e, ncv);
        const int held = 2 * QK_SCHEME_COUNT + s, unusual = 3 * QK_SCHEME_COUNT + s;
        k->held = errors_on(gr->h, gr->nh, best_t0, &ef, e, per[held], &cnt[held]);
        k->unusual = errors_on(gr->u, gr->nu, best_t0, &ef, e, per[unusual], &cnt[unusual]);
        out->v[out->n++] = *k;
    }
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        out->fit[s] = errors_of(per[s], cnt[s]);
        out->cv[s] = errors_of(per[QK_SCHEME_COUNT + s], cnt[QK_SCHEME_COUNT + s]);
        out->held[s] = errors_of(per[2 * QK_SCHEME_COUNT + s], cnt[2 * QK_SCHEME_COUNT + s]);
        out->unusual[s] = errors_of(per[3 * QK_SCHEME_COUNT + s], cnt[3 * QK_SCHEME_COUNT + s]);
    }
    for (int s = 0; s < 4 * QK_SCHEME_COUNT; s++)
        free(per[s]);
    free(per), free(e), free(ceil_b), free(ceil_p);
    for (int j = 0; j < ng; j++)
        free(g[j].p), free(g[j].h), free(g[j].u), free(g[j].shape);
    free(g);
    return QC_OK;
}

void qt_fitted_free(qt_fitted *f)
{
    free(f->v);
    memset(f, 0, sizeof *f);
}

const qt_kfit *qt_fitted_find(const qt_fitted *f, const char *kernel, const char *format, int threads)
{
    for (int i = 0; f && i < f->n; i++)
        if (f->v[i].threads == threads && !strcmp(f->v[i].kernel, kernel) && !strcmp(f->v[i].format, format))
            return &f->v[i];
    return NULL;
}

/* A fitted kernel's model on ceilings bw and peak, with t0 and a tile of mr rows. */
static qt_model kfit_model(const qt_kfit *k, double bw_gbs, double peak_gops, double t0_s, int mr)
{
    return (qt_model){bw_gbs * k->mem_eff, peak_gops * k->comp_eff, t0_s, mr, k->decode_gws, k->exposed};
}

int qt_fitted_model(const qt_fitted *f, const qt_obs *o, qt_model *m)
{
    const qt_kfit *k = qt_fitted_find(f, o->kernel, o->format, o->threads);
    if (!k || !(o->bw_gbs > 0) || !(o->peak_gops > 0)) {
        memset(m, 0, sizeof *m);
        return 0;
    }
    *m = kfit_model(k, o->bw_gbs, o->peak_gops, f->t0_s, o->mr);
    return 1;
}

/* ------------------------------------------------------------------ scheme models */

double qt_scheme_predict(const qt_scheme_model *s, double bytes, double flops, int M)
{
    if (!s->present)
        return 0;
    return qt_predict(M <= s->split ? &s->small : &s->large, bytes, flops, M);
}

/* The model of kernel k at M: its default configuration's format and tile, and the fitted
 * efficiencies for that format (1 when present). */
static int kernel_model_at(const qt_fitted *f, const qk_kernel *k, int threads, int M, qt_model *m, const qt_kfit **kf)
{
    qk_problem p = {.scheme = k->scheme, .m = M, .n = 4096, .k = 4096, .group = 128};
    qk_config cfg;
    qk_kernel_defaults(k, &p, &cfg);
    *kf = qt_fitted_find(f, k->name, qk_kernel_format(k, &cfg), threads);
    if (!*kf)
        return 0;
    *m = kfit_model(*kf, (*kf)->bw_gbs, (*kf)->peak_gops, f->t0_s, qk_kernel_tile_rows(k, &cfg));
    return 1;
}

/* The first M above which model_at(M) differs from model_at(1): the default's other loop. */
typedef int (*model_at_fn)(const void *ctx, int M, qt_model *m);
static void split_of(const void *ctx, model_at_fn at, qt_scheme_model *sm)
{
    sm->large = sm->small;
    sm->split = INT32_MAX;
    for (int m = 2; m <= 1 << 16; m++) {
        qt_model mm;
        if (at(ctx, m, &mm) && (mm.peak_gops != sm->small.peak_gops || mm.bw_gbs != sm->small.bw_gbs ||
                                mm.mr != sm->small.mr || mm.decode_gws != sm->small.decode_gws ||
                                mm.exposed != sm->small.exposed)) {
            sm->large = mm;
            sm->split = m - 1;
            return;
        }
    }
}

typedef struct fit_ctx {
    const qt_fitted *f;
    const qk_kernel *k;
    int threads;
} fit_ctx;

static int fitted_at(const void *ctx, int M, qt_model *m)
{
    const fit_ctx *c = ctx;
    const qt_kfit *kf;
    return kernel_model_at(c->f, c->k, c->threads, M, m, &kf);
}

void qt_scheme_models(const qt_fitted *f, qt_scheme_model out[QK_SCHEME_COUNT])
{
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        qt_scheme_model *sm = &out[s];
        memset(sm, 0, sizeof *sm);
        for (int cuda = 0; cuda <= 1 && !sm->present; cuda++) {
            const qk_kernel *k = qk_kernel_default((qk_scheme)s, cuda);
            int threads = -1;
            for (int i = 0; k && i < f->n && threads < 0; i++)
                if (!strcmp(f->v[i].kernel, k->name))
                    threads = f->v[i].threads;
            const qt_kfit *ks;
            if (threads < 0 || !kernel_model_at(f, k, threads, 1, &sm->small, &ks))
                continue;
            sm->present = 1;
            snprintf(sm->kernel, sizeof sm->kernel, "%s", k->name);
            fit_ctx c = {f, k, threads};
            split_of(&c, fitted_at, sm);
            sm->cv = ks->cv.n ? ks->cv : ks->fit;
            sm->cv_is_fit = !ks->cv.n;
        }
    }
}

typedef struct prof_ctx {
    const qp_profile *prof, *eff;
    const qk_kernel *k;
    int fitted; /* M = 1's model came from a fit: so must every other (as the header's) */
} prof_ctx;

static int profile_at(const void *ctx, int M, qt_model *m)
{
    const prof_ctx *c = ctx;
    qk_problem p = {.scheme = c->k->scheme, .m = M, .n = 4096, .k = 4096, .group = 128};
    qk_config cfg;
    char basis[128];
    qk_kernel_defaults(c->k, &p, &cfg);
    return qt_model_of(c->prof, c->eff, c->k, &cfg, m, basis, sizeof basis) && (!c->fitted || !strncmp(basis, "fit", 3));
}

int qt_scheme_model_of(const qp_profile *prof, const qp_profile *eff, qk_scheme s, qt_scheme_model *out, char *basis,
                       size_t basis_len)
{
    memset(out, 0, sizeof *out);
    const qk_kernel *k = qt_kernel_for(prof, s);
    if (!k)
        return 0;
    qk_problem p = {.scheme = s, .m = 1, .n = 4096, .k = 4096, .group = 128};
    qk_config cfg;
    qk_kernel_defaults(k, &p, &cfg);
    if (!qt_model_of(prof, eff, k, &cfg, &out->small, basis, basis_len))
        return 0;
    out->present = 1;
    snprintf(out->kernel, sizeof out->kernel, "%s", k->name);
    prof_ctx c = {prof, eff, k, !strncmp(basis, "fit", 3)};
    split_of(&c, profile_at, out);
    const qp_fit_model *fm = qp_profile_fit(eff ? eff : prof, k->name, qk_kernel_format(k, &cfg), 0);
    if (fm && fm->cv_median >= 0)
        out->cv = (qt_errors){.n = fm->points, .median = fm->cv_median, .max = fm->cv_max};
    return 1;
}

/* ------------------------------------------------------------------ crossovers */

/* a's predicted time minus b's, at M = m */
static double diff_at(const qt_scheme_model *ma, const qk_problem *a, const qt_scheme_model *mb, const qk_problem *b,
                      int m)
{
    qk_problem pa = *a, pb = *b;
    pa.m = pb.m = m;
    qk_cost ca = qk_problem_cost(&pa), cb = qk_problem_cost(&pb);
    return qt_scheme_predict(ma, ca.bytes, ca.flops, m) - qt_scheme_predict(mb, cb.bytes, cb.flops, m);
}

int qt_crossover(const qt_scheme_model *ma, const qk_problem *a, const qt_scheme_model *mb, const qk_problem *b,
                 int max_m, int *direction)
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

int qt_orders_agree(const int *measured, const int *predicted, int n)
{
    for (int i = 0; i < n; i++)
        if (measured[i] * predicted[i] < 0 && !(i > 0 && measured[i - 1] != measured[i]) &&
            !(i + 1 < n && measured[i + 1] != measured[i]))
            return 0;
    return 1;
}
