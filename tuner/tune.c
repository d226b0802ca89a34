/* Autotuning: the fastest correct configuration per (scheme, N, K, group, M bucket), with
 * ties within the measured noise going to the simpler configuration, and a report of what
 * roofline pruning would have saved. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qk.h"
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

typedef struct cellkey {
    int scheme, n, k, group, hi;
} cellkey;

static int same_cell(const cellkey *a, const cellkey *b)
{
    return a->scheme == b->scheme && a->n == b->n && a->k == b->k && a->group == b->group && a->hi == b->hi;
}

static int cmp_winner(const void *x, const void *y)
{
    const qt_winner *a = x, *b = y;
    int d[] = {a->scheme - b->scheme, a->n - b->n, a->k - b->k, a->group - b->group, a->m_hi - b->m_hi};
    for (int i = 0; i < 5; i++)
        if (d[i])
            return d[i];
    return 0;
}

/* The roofline model of each (scheme, kernel, threads): a prediction per configuration. */
typedef struct variant {
    int scheme, threads;
    char kernel[32];
    qt_model m;
    int fitted;
} variant;

static variant *variant_of(variant *v, int nv, const qt_obs *o)
{
    for (int i = 0; i < nv; i++)
        if (v[i].scheme == o->scheme && v[i].threads == o->threads && !strcmp(v[i].kernel, o->kernel))
            return &v[i];
    return NULL;
}

int qt_tune(const qt_obs *obs, int n, const qt_tune_opts *o, qt_tuned *out, qc_msgs *err)
{
    memset(out, 0, sizeof *out);
    double sig = o->noise_sigmas > 0 ? o->noise_sigmas : 2.0, margin = o->prune_margin > 1 ? o->prune_margin : 1.25;
    /* usable observations: timed, and within the error budget */
    int *use = calloc((size_t)n + 1, sizeof *use), any_scheme[16] = {0}, kept_scheme[16] = {0};
    for (int i = 0; i < n; i++) {
        if (!(obs[i].time_s > 0))
            continue;
        any_scheme[obs[i].scheme] = 1;
        if (o->max_error > 0 && !(obs[i].quant_error >= 0 && obs[i].quant_error <= o->max_error))
            continue;
        use[i] = 1;
        kept_scheme[obs[i].scheme] = 1;
    }
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        out->excluded[s] = any_scheme[s] && !kept_scheme[s];
    /* variants and their fits, for pruning */
    variant *var = calloc((size_t)n + 1, sizeof *var);
    int nv = 0;
    for (int i = 0; i < n; i++)
        if (use[i] && !variant_of(var, nv, &obs[i])) {
            variant *v = &var[nv++];
            v->scheme = obs[i].scheme;
            v->threads = obs[i].threads;
            snprintf(v->kernel, sizeof v->kernel, "%s", obs[i].kernel);
            double *b = malloc(sizeof(double) * (size_t)n), *f = malloc(sizeof(double) * (size_t)n),
                   *t = malloc(sizeof(double) * (size_t)n), res;
            int c = 0;
            for (int j = 0; j < n; j++)
                if (use[j] && variant_of(var, nv, &obs[j]) == v) {
                    b[c] = obs[j].bytes;
                    f[c] = obs[j].flops;
                    t[c] = obs[j].time_s;
                    c++;
                }
            v->fitted = c >= 3 && qt_fit(b, f, t, c, &v->m, &res, NULL) == QC_OK;
            free(b), free(f), free(t);
        }
    /* cells */
    int *done = calloc((size_t)n + 1, sizeof *done), *member = calloc((size_t)n + 1, sizeof *member);
    out->v = calloc((size_t)n + 1, sizeof *out->v);
    for (int i = 0; i < n; i++) {
        if (!use[i] || done[i])
            continue;
        int lo;
        cellkey key = {obs[i].scheme, obs[i].n, obs[i].k, obs[i].group, qt_bucket(o, obs[i].m, &lo)};
        /* the cell's members; its representative M is the largest measured in the bucket */
        int mrep = 0, nmem = 0;
        for (int j = i; j < n; j++) {
            int l2;
            cellkey kj = {obs[j].scheme, obs[j].n, obs[j].k, obs[j].group, qt_bucket(o, obs[j].m, &l2)};
            if (use[j] && same_cell(&key, &kj)) {
                done[j] = 1;
                member[nmem++] = j;
                if (obs[j].m > mrep)
                    mrep = obs[j].m;
            }
        }
        int kept = 0; /* only the representative M competes */
        for (int a = 0; a < nmem; a++)
            if (obs[member[a]].m == mrep)
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
        if (second >= 0 && obs[second].time_s - obs[best].time_s <= sig * noise) {
            tie = 1; /* among everything within the noise of the fastest, the default configuration stands */
            for (int a = 0; a < nmem; a++)
                if (obs[member[a]].is_default && obs[member[a]].time_s - obs[best].time_s <= sig * noise)
                    pick = member[a];
        }
        qt_winner *w = &out->v[out->n++];
        w->scheme = key.scheme;
        w->n = key.n;
        w->k = key.k;
        w->group = key.group;
        w->m_lo = lo;
        w->m_hi = key.hi;
        w->m_measured = mrep;
        snprintf(w->kernel, sizeof w->kernel, "%s", obs[pick].kernel);
        snprintf(w->config, sizeof w->config, "%s", obs[pick].config);
        w->time_s = obs[pick].time_s;
        w->cv = obs[pick].cv;
        w->tie = tie;
        w->candidates = nmem;
        w->quant_error = obs[pick].quant_error;

        /* roofline pruning: keep what the variants' models predict within the margin of the best */
        double pbest = INFINITY;
        for (int a = 0; a < nmem; a++) {
            variant *v = variant_of(var, nv, &obs[member[a]]);
            if (v && v->fitted)
                pbest = fmin(pbest, qt_predict(&v->m, obs[member[a]].bytes, obs[member[a]].flops));
        }
        int kept_best = -1;
        for (int a = 0; a < nmem; a++) {
            int j = member[a];
            variant *v = variant_of(var, nv, &obs[j]);
            int keep = !(v && v->fitted) || qt_predict(&v->m, obs[j].bytes, obs[j].flops) <= margin * pbest;
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
    free(var);
    free(done);
    free(member);
    if (!out->n) {
        qc_msgs_addf(err, "no correct, timed point to tune from%s (run a sweep; failed and predicted-only points "
                          "cannot choose a winner)", o->max_error > 0 ? " within --max-error" : "");
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
