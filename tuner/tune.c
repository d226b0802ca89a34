/* Autotuning: the fastest correct configuration per (scheme, N, K, group, flags, M bucket),
 * with ties within the measured noise going to the simpler configuration, a report of what
 * roofline pruning would have saved, and the winning scheme per cell. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/roofline.h"

int qt_bucket(const qt_tune_opts *o, int m, int *lo)
{
    if (o && o->n_edges > 0) {
        int prev = 0;
        for (int i = 0; i < o->n_edges; i++) {
            if (m <= o->bucket_edges[i]) {
                *lo = prev;
                return o->bucket_edges[i];
            }
            prev = o->bucket_edges[i];
        }
        *lo = prev;
        return 1 << 30; /* above the last edge */
    }
    int hi = 1;
    while (hi < m)
        hi *= 2;
    *lo = hi / 2;
    return hi;
}

int qt_same_key(const qk_problem *a, const qk_problem *b)
{
    int grouped = qk_scheme_grouped(a->scheme);
    return a->scheme == b->scheme && a->n == b->n && a->k == b->k && (!grouped || a->group == b->group) &&
           a->asym == b->asym && a->out_f32 == b->out_f32 && a->fp8_channel == b->fp8_channel &&
           a->act_bf16 == b->act_bf16;
}

static int cmp_problem(const qk_problem *a, const qk_problem *b)
{
    int d[] = {a->scheme - b->scheme, a->n - b->n, a->k - b->k, a->group - b->group, a->asym - b->asym,
               a->out_f32 - b->out_f32, a->fp8_channel - b->fp8_channel, a->act_bf16 - b->act_bf16};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (d[i])
            return d[i];
    return 0;
}

static int cmp_winner(const void *x, const void *y)
{
    const qt_winner *a = x, *b = y;
    int d = cmp_problem(&a->p, &b->p);
    return d ? d : a->m_hi - b->m_hi;
}

static int in_cell(const qt_obs *a, const qt_obs *b, const qt_tune_opts *o)
{
    int l1, l2;
    return qt_same_key(&a->p, &b->p) && qt_bucket(o, a->p.m, &l1) == qt_bucket(o, b->p.m, &l2);
}

/* Is race side s the point (p, kernel, config)? */
static int is_side(const qt_side *s, const qk_problem *p, const char *kernel, const char *config)
{
    return qt_same_key(&s->p, p) && s->p.m == p->m && !strcmp(s->kernel, kernel) && !strcmp(s->config, config);
}

/* The rounds of the race between points x and y (either way round), as x's time ÷ y's: the
 * median of the rounds' medians, the lowest lower and the highest upper quartile of any round,
 * and the verdict at margin (one round: qt_race_verdict; more: qt_rounds_verdict). n = 0: never
 * raced. */
typedef struct rounds {
    int n, pairs, verdict;
    double ratio, lo, hi;
    const qt_race *first;
} rounds;
static rounds rounds_between(const qt_race *races, int n, const qk_problem *xp, const char *xk, const char *xc,
                             const qk_problem *yp, const char *yk, const char *yc, double margin)
{
    rounds o = {0};
    double *med = qc_xcalloc((size_t)n + 1, sizeof *med);
    for (int i = 0; i < n; i++) {
        const qt_race *r = &races[i];
        const int flip = is_side(&r->a, yp, yk, yc) && is_side(&r->b, xp, xk, xc);
        if (!flip && !(is_side(&r->a, xp, xk, xc) && is_side(&r->b, yp, yk, yc)))
            continue;
        const double ratio = flip ? 1 / r->ratio : r->ratio, lo = flip ? 1 / r->ratio_hi : r->ratio_lo,
                     hi = flip ? 1 / r->ratio_lo : r->ratio_hi;
        if (!o.n++)
            o.first = r, o.lo = lo, o.hi = hi, o.verdict = qt_race_verdict(ratio, lo, hi, r->pairs, margin);
        o.lo = fmin(o.lo, lo), o.hi = fmax(o.hi, hi), o.pairs += r->pairs;
        med[o.n - 1] = ratio;
    }
    if (o.n > 1)
        o.verdict = qt_rounds_verdict(med, o.n, margin);
    o.ratio = qc_summarize(med, o.n).median;
    free(med);
    return o;
}

/* x's time ÷ y's in a race between them; 0 when they were not raced. */
static double raced_ratio(const qt_tune_opts *o, const qt_obs *x, const qt_obs *y)
{
    return rounds_between(o->races, o->n_races, &x->p, x->kernel, x->config, &y->p, y->kernel, y->config, 0).ratio;
}

int qt_tune(const qt_obs *obs, int n, const qt_tune_opts *o, qt_tuned *out, qc_msgs *err)
{
    memset(out, 0, sizeof *out);
    out->races = o->races;
    out->n_races = o->n_races;
    double sig = o->noise_sigmas > 0 ? o->noise_sigmas : 2.0, margin = o->prune_margin > 1 ? o->prune_margin : 1.25;
    /* usable observations: timed, and within the error budget */
    int *use = qc_xcalloc((size_t)n + 1, sizeof *use), any_scheme[QK_SCHEME_COUNT] = {0},
        kept_scheme[QK_SCHEME_COUNT] = {0};
    for (int i = 0; i < n; i++) {
        if (!(obs[i].time_s > 0) || (unsigned)obs[i].p.scheme >= QK_SCHEME_COUNT)
            continue;
        any_scheme[obs[i].p.scheme] = 1;
        if (o->max_error > 0 && !(obs[i].quant_error >= 0 && obs[i].quant_error <= o->max_error))
            continue;
        use[i] = 1;
        kept_scheme[obs[i].p.scheme] = 1;
    }
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        out->excluded[s] = any_scheme[s] && !kept_scheme[s];
    /* cells */
    int *done = qc_xcalloc((size_t)n + 1, sizeof *done), *member = qc_xcalloc((size_t)n + 1, sizeof *member);
    out->v = qc_xcalloc((size_t)n + 1, sizeof *out->v);
    for (int i = 0; i < n; i++) {
        if (!use[i] || done[i])
            continue;
        int lo, hi = qt_bucket(o, obs[i].p.m, &lo);
        /* the cell's members; its representative M is the largest measured in the bucket */
        int mrep = 0, nmem = 0;
        for (int j = i; j < n; j++)
            if (use[j] && in_cell(&obs[i], &obs[j], o)) {
                done[j] = 1;
                member[nmem++] = j;
                if (obs[j].p.m > mrep)
                    mrep = obs[j].p.m;
            }
        int kept = 0; /* only the representative M competes */
        for (int a = 0; a < nmem; a++)
            if (obs[member[a]].p.m == mrep)
                member[kept++] = member[a];
        nmem = kept;
        int best = -1, second = -1;
        for (int a = 0; a < nmem; a++) {
            int j = member[a];
            if (best < 0 || obs[j].time_s < obs[best].time_s) {
                second = best;
                best = j;
            } else if (second < 0 || obs[j].time_s < obs[second].time_s) {
                second = j;
            }
        }
        /* noise: the larger of the two medians' spreads */
        int pick = best, tie = 0;
        double noise = second >= 0 ? fmax(obs[best].cv * obs[best].time_s, obs[second].cv * obs[second].time_s) : 0;
        if (second >= 0 && obs[best].noisy) {
            tie = 1; /* the fastest never settled within the noise target: it cannot overturn the default */
            for (int a = 0; a < nmem; a++)
                if (obs[member[a]].is_default)
                    pick = member[a];
        } else if (second >= 0 && obs[second].time_s - obs[best].time_s <= sig * noise) {
            tie = 1; /* among everything within the noise of the fastest, the default configuration stands */
            for (int a = 0; a < nmem; a++)
                if (obs[member[a]].is_default && obs[member[a]].time_s - obs[best].time_s <= sig * noise)
                    pick = member[a];
        }
        /* another kernel of the scheme raced against it side by side: the faster in the race */
        for (int a = 0; a < nmem; a++)
            if (strcmp(obs[member[a]].kernel, obs[pick].kernel) && raced_ratio(o, &obs[pick], &obs[member[a]]) > 1) {
                pick = member[a];
                tie = 0;
                break;
            }
        qt_winner *w = &out->v[out->n++];
        w->p = obs[pick].p;
        w->p.m = mrep;
        if (!qk_scheme_grouped(w->p.scheme))
            w->p.group = 0;
        w->m_lo = lo;
        w->m_hi = hi;
        snprintf(w->kernel, sizeof w->kernel, "%s", obs[pick].kernel);
        snprintf(w->config, sizeof w->config, "%s", obs[pick].config);
        w->time_s = obs[pick].time_s;
        w->cv = obs[pick].cv;
        w->tie = tie;
        w->noisy = obs[pick].noisy;
        w->candidates = nmem;
        w->quant_error = obs[pick].quant_error;
        /* re-measured against its kernel's default: one that did not beat it gives way to it */
        const qt_verdict *vd = NULL;
        for (int a = 0; a < o->n_verdicts && !vd; a++)
            if (qt_same_key(&o->verdicts[a].p, &obs[pick].p) && o->verdicts[a].p.m == obs[pick].p.m &&
                !strcmp(o->verdicts[a].kernel, obs[pick].kernel) && !strcmp(o->verdicts[a].config, obs[pick].config))
                vd = &o->verdicts[a];
        if (vd) {
            w->verified = vd->keep ? 1 : -1;
            w->verify_ratio = vd->ratio;
            for (int a = 0; a < nmem && !vd->keep; a++)
                if (obs[member[a]].is_default && !strcmp(obs[member[a]].kernel, obs[pick].kernel)) {
                    const qt_obs *d = &obs[member[a]];
                    snprintf(w->config, sizeof w->config, "%s", d->config);
                    w->time_s = d->time_s;
                    w->cv = d->cv;
                    w->noisy = d->noisy;
                    w->quant_error = d->quant_error;
                }
        }

        /* roofline pruning: keep what the fitted models predict within the margin of the best */
        double pbest = INFINITY;
        qt_model mm;
        for (int a = 0; a < nmem; a++)
            if (qt_fitted_model(o->fit, &obs[member[a]], &mm))
                pbest = fmin(pbest, qt_predict(&mm, obs[member[a]].bytes, obs[member[a]].flops, obs[member[a]].p.m));
        int kept_best = -1;
        for (int a = 0; a < nmem; a++) {
            int j = member[a];
            int keep = !qt_fitted_model(o->fit, &obs[j], &mm) ||
                       qt_predict(&mm, obs[j].bytes, obs[j].flops, obs[j].p.m) <= margin * pbest;
            out->points++;
            if (keep) {
                out->points_kept++;
                if (kept_best < 0 || obs[j].time_s < obs[kept_best].time_s)
                    kept_best = j;
            }
        }
        out->cells++;
        /* the same winner: the same configuration, or one the tie rule treats as equal */
        if (kept_best == best || kept_best == pick ||
            (kept_best >= 0 && obs[kept_best].time_s - obs[best].time_s <=
                                   sig * fmax(obs[best].cv * obs[best].time_s, obs[kept_best].cv * obs[kept_best].time_s)))
            out->same_winners++;
    }
    free(use);
    free(done);
    free(member);
    if (!out->n) {
        qc_msgs_addf(err, "no correct, timed point to tune from%s (run a sweep; failed points cannot choose a winner)",
                     o->max_error > 0 ? " within --max-error" : "");
        qt_tuned_free(out);
        return QC_EINPUT;
    }
    qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_winner);
    return QC_OK;
}

void qt_tuned_free(qt_tuned *t)
{
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ cells */

int qt_cell_matches(const qk_problem *c, const qk_problem *w)
{
    if (c->n != w->n || c->k != w->k || c->out_f32 != w->out_f32)
        return 0;
    if (qk_scheme_grouped(w->scheme))
        return c->group == w->group && c->asym == w->asym;
    if (w->scheme == QK_FP8)
        return c->fp8_channel == w->fp8_channel;
    return 1;
}

static int cmp_cell(const void *x, const void *y)
{
    const qt_cell *a = x, *b = y;
    int d[] = {a->key.n - b->key.n, a->key.k - b->key.k, a->key.out_f32 - b->key.out_f32, a->key.group - b->key.group,
               a->key.asym - b->key.asym, a->key.fp8_channel - b->key.fp8_channel, a->m_hi - b->m_hi};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (d[i])
            return d[i];
    return 0;
}

/* Are two winners of a cell within the noise of their medians (2σ) or within the margin? */
static int tied(const qt_winner *a, const qt_winner *b, double margin)
{
    double d = fabs(a->time_s - b->time_s), lo = fmin(a->time_s, b->time_s);
    double noise = 2 * sqrt(pow(a->cv * a->time_s, 2) + pow(b->cv * b->time_s, 2));
    return d <= noise || d <= margin * lo;
}

int qt_race_verdict(double ratio, double lo, double hi, int pairs, double margin)
{
    const double notch = 1.58 * (hi - lo) / sqrt(pairs > 0 ? pairs : 1);
    return ratio - notch <= 1 && ratio + notch >= 1 ? 0 : qt_rounds_verdict(&ratio, 1, margin);
}

int qt_rounds_verdict(const double *ratio, int n, double margin)
{
    if (margin <= 0)
        margin = QT_TIE_MARGIN_PCT / 100.0;
    if (n < 1)
        return 0;
    double *v = qc_xcalloc((size_t)n + 1, sizeof *v);
    memcpy(v, ratio, sizeof *v * (size_t)n);
    const double med = qc_summarize(v, n).median;
    free(v);
    const int side = med < 1 / (1 + margin) ? -1 : med > 1 + margin ? +1 : 0;
    for (int i = 0; i < n; i++)
        if ((side < 0 && ratio[i] > 1 + margin) || (side > 0 && ratio[i] < 1 / (1 + margin)))
            return 0; /* a round the other way round, beyond the margin */
    return side;
}

/* w and w2 the other way round (a race's ratio with them) */
static void swap_sides(qt_cell *c)
{
    const qt_winner *x = c->w;
    c->w = c->w2, c->w2 = x;
    if (c->race) {
        const double lo = c->ratio_lo;
        c->ratio = 1 / c->ratio, c->ratio_lo = 1 / c->ratio_hi, c->ratio_hi = 1 / lo;
    }
}

int qt_cells(const qt_tuned *t, double margin, qt_cell **out, int *n)
{
    if (!(margin > 0))
        margin = QT_TIE_MARGIN_PCT / 100.0;
    /* the option combinations present: int4 (group, asym) and fp8 scale; one "none" each when absent */
    int (*int4)[2] = qc_xcalloc((size_t)t->n + 1, sizeof *int4), n4 = 0, fp8[2], n8 = 0;
    for (int i = 0; i < t->n; i++) {
        const qk_problem *p = &t->v[i].p;
        if (qk_scheme_grouped(p->scheme)) {
            int seen = 0;
            for (int j = 0; j < n4; j++)
                seen |= int4[j][0] == p->group && int4[j][1] == p->asym;
            if (!seen)
                int4[n4][0] = p->group, int4[n4++][1] = p->asym;
        } else if (p->scheme == QK_FP8) {
            int seen = 0;
            for (int j = 0; j < n8; j++)
                seen |= fp8[j] == p->fp8_channel;
            if (!seen)
                fp8[n8++] = p->fp8_channel;
        }
    }
    if (!n4)
        int4[n4][0] = int4[n4][1] = 0, n4++;
    if (!n8)
        fp8[n8++] = 0;
    int cap = 16;
    qt_cell *cells = qc_xcalloc((size_t)cap, sizeof *cells);
    int nc = 0;
    for (int i = 0; i < t->n; i++)
        for (int a = 0; a < n4; a++)
            for (int b = 0; b < n8; b++) {
                const qt_winner *w = &t->v[i];
                qk_problem key = {.n = w->p.n, .k = w->p.k, .out_f32 = w->p.out_f32, .group = int4[a][0],
                                  .asym = int4[a][1], .fp8_channel = fp8[b]};
                if (!qt_cell_matches(&key, &w->p))
                    continue;
                qt_cell *c = NULL;
                for (int j = 0; j < nc && !c; j++)
                    if (cells[j].m_hi == w->m_hi && !cmp_cell(&cells[j], &(qt_cell){.key = key, .m_hi = w->m_hi}))
                        c = &cells[j];
                if (!c) {
                    if (nc == cap)
                        cells = qc_xrealloc(cells, sizeof *cells * (size_t)(cap *= 2));
                    c = &cells[nc++];
                    *c = (qt_cell){.key = key, .m_lo = w->m_lo, .m_hi = w->m_hi, .scheme2 = -1};
                }
                c->candidates++;
                if (!c->w || w->time_s < c->w->time_s) { /* the fastest, and the runner-up */
                    c->w2 = c->w;
                    c->w = w;
                } else if (!c->w2 || w->time_s < c->w2->time_s) {
                    c->w2 = w;
                }
            }
    for (int i = 0; i < nc; i++) { /* a tie: both named, the more accurate first */
        qt_cell *c = &cells[i];
        c->tie = c->w2 && tied(c->w, c->w2, margin);
        const rounds x = !c->w2 ? (rounds){0}
                                : rounds_between(t->races, t->n_races, &c->w->p, c->w->kernel, c->w->config,
                                                 &c->w2->p, c->w2->kernel, c->w2->config, margin);
        if (x.n) { /* interleaved, a slow phase of the machine slows both alike: the race decides */
            c->race = x.first, c->rounds = x.n, c->pairs = x.pairs;
            c->ratio = x.ratio, c->ratio_lo = x.lo, c->ratio_hi = x.hi;
            c->tie = x.verdict == 0;
            if (x.verdict > 0) /* the runner-up was the faster */
                swap_sides(c);
        }
        if (c->tie && c->w2->quant_error >= 0 && (c->w->quant_error < 0 || c->w2->quant_error < c->w->quant_error))
            swap_sides(c);
        c->scheme = c->w->p.scheme;
        c->scheme2 = c->w2 ? (int)c->w2->p.scheme : -1;
    }
    free(int4);
    qsort(cells, (size_t)nc, sizeof *cells, cmp_cell);
    *out = cells;
    *n = nc;
    return QC_OK;
}

/* ------------------------------------------------------------------ a model's totals */

/* The fastest 16-bit-output winner of scheme s on N × K measured at M = m (NULL: none). */
static const qt_winner *winner_at(const qt_tuned *t, int s, int n, int k, int m)
{
    const qt_winner *best = NULL;
    for (int i = 0; i < t->n; i++) {
        const qt_winner *w = &t->v[i];
        if ((int)w->p.scheme == s && w->p.n == n && w->p.k == k && w->p.m == m && !w->p.out_f32 &&
            (!best || w->time_s < best->time_s))
            best = w;
    }
    return best;
}

/* The smallest M measured for scheme s on N × K that is at least `rows` (0: none). */
static int m_at_least(const qt_tuned *t, int s, int n, int k, int rows)
{
    int m = 0;
    for (int i = 0; i < t->n; i++) {
        const qt_winner *w = &t->v[i];
        if ((int)w->p.scheme == s && w->p.n == n && w->p.k == k && !w->p.out_f32 && w->p.m >= rows &&
            (!m || w->p.m < m))
            m = w->p.m;
    }
    return m;
}

int qt_model_totals(const qt_tuned *t, const qt_layer *l, int n_layer, int blocks, qt_total **out, int *n)
{
    /* the schemes tuned with a 16-bit output (each one's options, for the weight bytes) and the
     * M values any of them was tuned at, ascending */
    const qt_winner *proto[QK_SCHEME_COUNT] = {0};
    int ms[256], nm = 0;
    for (int i = 0; i < t->n; i++) {
        const qt_winner *w = &t->v[i];
        if (w->p.out_f32)
            continue;
        if (!proto[w->p.scheme])
            proto[w->p.scheme] = w;
        int at = 0;
        while (at < nm && ms[at] < w->p.m)
            at++;
        if ((at < nm && ms[at] == w->p.m) || nm == 256)
            continue;
        memmove(ms + at + 1, ms + at, sizeof *ms * (size_t)(nm++ - at));
        ms[at] = w->p.m;
    }
    int present = 0;
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        present += proto[s] != NULL;
    *n = present * nm;
    *out = qc_xcalloc((size_t)*n + 1, sizeof **out);
    qt_total *tot = *out;
    for (int i = 0; i < nm; i++)
        for (int s = 0; s < QK_SCHEME_COUNT; s++) {
            if (!proto[s])
                continue;
            *tot = (qt_total){.scheme = s, .m = ms[i]};
            double pass = 0, bytes = 0;
            for (int j = 0; j < n_layer; j++) {
                const qt_layer *ly = &l[j];
                double calls = ly->count;
                int rows = ms[i];
                if (ly->experts > 0) {
                    const long routes = (long)ms[i] * ly->count;
                    const long active = routes < ly->experts ? routes : ly->experts;
                    rows = (int)((routes + active - 1) / active);
                    calls = (double)active;
                }
                const int m = ly->experts > 0 ? m_at_least(t, s, ly->n, ly->k, rows) : rows;
                const qt_winner *w = m ? winner_at(t, s, ly->n, ly->k, m) : NULL;
                qk_problem p = proto[s]->p;
                p.n = ly->n;
                p.k = ly->k;
                bytes += (ly->experts > 0 ? ly->experts : 1) * qk_problem_cost(&p).weight_bytes;
                if (w)
                    pass += calls * w->time_s;
                else
                    tot->missing++;
            }
            tot->pass_s = tot->missing ? 0 : pass * blocks;
            tot->tokens_s = tot->pass_s > 0 ? ms[i] / tot->pass_s : 0;
            tot->weight_gb = bytes * blocks / 1e9;
            tot++;
        }
    return QC_OK;
}
