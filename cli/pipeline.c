/* The pipeline: probe → sweep → fit → tune → emit → plot. cli_pipeline at the end of this file
 * is the chain `qbench sweep` runs; the stage functions above it are also what `qbench fit`,
 * `tune`, `emit` and `plot` call on a saved results file. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/cbench.h"
#include "cli/pipeline.h"
#include "hardware/hardware.h"
#include "plots/plot.h"

/* ------------------------------------------------------------------ results → observations */

/* context.qbench.model, when a --model sweep wrote it: the layers its totals add up */
static int load_model(cli_results *r, const char *path, qc_msgs *err)
{
    json_t *m = json_object_get(json_object_get(r->res.context, "qbench"), "model");
    if (!m)
        return QC_OK;
    json_t *layers = json_object_get(m, "layers"), *blocks = json_object_get(m, "blocks");
    const char *name = json_string_value(json_object_get(m, "name"));
    int ok = name && json_is_array(layers) && json_array_size(layers) > 0 && json_array_size(layers) <= 64 &&
             json_is_integer(blocks) && json_integer_value(blocks) > 0 && json_integer_value(blocks) < (1 << 20);
    r->layers = qc_xcalloc(json_array_size(layers) + 1, sizeof *r->layers);
    size_t i;
    json_t *e;
    json_array_foreach(layers, i, e)
    {
        if (!ok)
            break;
        qt_layer *l = &r->layers[r->n_layers++];
        const char *ln = json_string_value(json_object_get(e, "name"));
        json_t *v[4] = {json_object_get(e, "n"), json_object_get(e, "k"), json_object_get(e, "count"),
                        json_object_get(e, "experts")};
        int *dst[4] = {&l->n, &l->k, &l->count, &l->experts};
        ok = ln && strlen(ln) < sizeof l->name;
        for (int j = 0; j < 4 && ok; j++) {
            ok = json_is_integer(v[j]) && json_integer_value(v[j]) >= (j == 3 ? 0 : 1) &&
                 json_integer_value(v[j]) <= (1 << 24);
            if (ok)
                *dst[j] = (int)json_integer_value(v[j]);
        }
        if (ok)
            snprintf(l->name, sizeof l->name, "%s", ln);
    }
    if (!ok) {
        qc_msgs_addf(err, "%s: context.qbench.model must have a name, blocks (a positive integer) and 1 to 64 layers, "
                          "each {name, n, k, count, experts}: the file was not written by qbench as it is", path);
        return QC_EINPUT;
    }
    r->blocks = (int)json_integer_value(blocks);
    snprintf(r->model, sizeof r->model, "%s", name);
    return QC_OK;
}

/* A point as one side of a race: its problem, kernel and configuration. */
static qt_side side_of(const qb_point *pt)
{
    qt_side s = {.p = pt->p};
    snprintf(s.kernel, sizeof s.kernel, "%s", pt->kernel);
    snprintf(s.config, sizeof s.config, "%s", pt->config);
    return s;
}

int cli_results_load(cli_results *r, const char *path, qc_msgs *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    char *text;
    size_t len;
    int rc = qc_read_file(path, qb_results_max_bytes(),
                          "a results file (raise QBENCH_RESULTS_MAX_MB for a larger one)", &text, &len, err);
    if (rc)
        return rc == QC_ERUNTIME ? rc : QC_EINPUT;
    qt_hash_bytes(text, len, r->hash);
    rc = qb_results_parse(text, len, path, &r->res, err);
    free(text);
    if (rc)
        return rc;
    const char *dev = json_string_value(json_object_get(json_object_get(r->res.context, "qbench"), "profile"));
    if (!qp_name_valid(dev)) {
        qc_msgs_addf(err, "%s: context.qbench.profile is not a profile name (1 to 64 of a-z, 0-9, '.', '_', '-'): the "
                          "file was not written by qbench as it is", path);
        return QC_EINPUT;
    }
    snprintf(r->device, sizeof r->device, "%s", dev);
    if ((rc = load_model(r, path, err)))
        return rc;
    if (r->res.n == 0) {
        qc_msgs_addf(err, "%s: no points (run a sweep into it first)", path);
        return QC_EINPUT;
    }
    for (int i = 1; i < r->res.n; i++)
        if (r->res.v[i].warm != r->res.v[0].warm) {
            qc_msgs_addf(err, "%s: it mixes points with warm and with cold weights (%s, %s); fit and tune one mode at "
                              "a time", path, r->res.v[0].name, r->res.v[i].name);
            return QC_EINPUT;
        }
    r->obs = qc_xcalloc((size_t)r->res.n, sizeof *r->obs);
    for (int i = 0; i < r->res.n; i++) {
        const qb_point *p = &r->res.v[i];
        const qk_kernel *k = qk_kernel_find(p->kernel); /* the reader checked it is one */
        if (p->status == QB_FAILED || !(p->median_s > 0))
            continue;
        qt_obs *o = &r->obs[r->n_obs++];
        o->p = p->p;
        o->k = k;
        qk_config d;
        qk_kernel_defaults(k, &p->p, &d);
        o->cfg = d;
        if (qk_config_apply(k, p->config, &o->cfg, err)) {
            qc_msgs_addf(err, "%s: point %s has a configuration %s cannot read", path, p->name, k->name);
            return QC_EINPUT;
        }
        o->is_default = !memcmp(&o->cfg, &d, sizeof d);
        o->threads = qk_config_get(k, &o->cfg, "threads", 1);
        snprintf(o->kernel, sizeof o->kernel, "%s", p->kernel);
        snprintf(o->config, sizeof o->config, "%s", p->config);
        o->bytes = p->bytes;
        o->flops = p->flops;
        o->time_s = p->median_s;
        o->cv = p->cv;
        o->noisy = p->noisy;
        o->quant_error = p->quant_error;
        o->bw_gbs = p->ceiling_gbs;
        o->peak_gops = p->ceiling_gops;
        snprintf(o->format, sizeof o->format, "%s", qk_kernel_format(k, &o->cfg));
        o->mr = qk_kernel_tile_rows(k, &o->cfg);
        o->holdout = p->holdout;
        o->unusual = p->phase_unusual;
    }
    if (r->n_obs == 0) {
        qc_msgs_addf(err, "%s: all %d points failed; there is nothing to fit or tune (see each point's 'error')", path,
                     r->res.n);
        return QC_EINPUT;
    }
    qt_fit_kernels(r->obs, r->n_obs, &r->fit, NULL); /* none (fit.n = 0) is the fit command's error, not load's */
    r->verdicts = qc_xcalloc((size_t)r->res.n_ver + 1, sizeof *r->verdicts);
    r->races = qc_xcalloc((size_t)r->res.n_ver + 1, sizeof *r->races);
    for (int i = 0; i < r->res.n_ver; i++) {
        const qb_verification *v = &r->res.ver[i];
        const qb_point *w = qb_results_find(&r->res, v->winner); /* the reader checked it is there */
        if (v->race) {
            qt_race *x = &r->races[r->n_races++];
            x->a = side_of(w);
            x->b = side_of(qb_results_find(&r->res, v->baseline));
            x->pairs = v->pairs;
            x->ratio = v->ratio, x->ratio_lo = v->ratio_lo, x->ratio_hi = v->ratio_hi;
            continue;
        }
        qt_verdict *d = &r->verdicts[r->n_verdicts++];
        d->p = w->p;
        snprintf(d->kernel, sizeof d->kernel, "%s", w->kernel);
        snprintf(d->config, sizeof d->config, "%s", w->config);
        d->pairs = v->pairs;
        d->ratio = v->ratio;
        d->ratio_hi = v->ratio_hi;
        d->keep = v->keep;
    }
    return QC_OK;
}

void cli_results_free(cli_results *r)
{
    free(r->layers);
    qb_results_free(&r->res);
    free(r->obs);
    qt_fitted_free(&r->fit);
    free(r->verdicts);
    free(r->races);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ fit */

int cli_fit(const cli_results *r, qc_msgs *err)
{
    if (r->fit.n)
        return QC_OK;
    qc_msgs_addf(err, "%s: no kernel has 2 timed points placed under measured ceilings (sweep more M values; the "
                      "sweep probes the ceilings when its profile has none)", r->path);
    return QC_EINPUT;
}

static void pct(FILE *f, const qt_errors *e)
{
    if (e->n)
        fprintf(f, " %6.1f%% %6.1f%%", 100 * e->median, 100 * e->max);
    else
        fprintf(f, " %7s %7s", "-", "-");
}

/* Which of two times is faster beyond the tie margin: +1 the first, −1 the second, 0 a tie. */
static int order(double ta, double tb)
{
    const double ratio = ta / tb;
    return -qt_rounds_verdict(&ratio, 1, 0);
}

/* The indices where the order turns from one side to the other, ties passed over: their
 * count, into at[] (at most n). */
static int turns(const int *o, int n, int *at)
{
    int side = 0, c = 0;
    for (int i = 0; i < n; i++)
        if (o[i] && side && o[i] != side)
            at[c++] = i, side = o[i];
        else if (o[i])
            side = o[i];
    return c;
}

/* "A ahead from M=4, B from M=256" (the side after each turn), or "no turn up to M=…" */
static void print_turns(FILE *f, const int *t, int nt, const int *o, const int *ms, int n, int a, int b)
{
    if (!nt)
        fprintf(f, "no turn up to M=%d", ms[n - 1]);
    for (int i = 0; i < nt; i++)
        fprintf(f, "%s%s%s from M=%d", i ? ", " : "", qk_scheme_name((qk_scheme)(o[t[i]] > 0 ? a : b)),
                i ? "" : " ahead", ms[t[i]]);
}

static int tune_per_m(const cli_results *r, qt_tuned *t);

void cli_fit_report(const cli_results *r, FILE *f, int crossovers)
{
    const qt_fitted *ft = &r->fit;
    double tmin = INFINITY;
    for (int i = 0; i < r->n_obs; i++)
        tmin = fmin(tmin, r->obs[i].time_s);
    fprintf(f, "the model: tm = bytes / (e_mem * DRAM read) and tc = flops / (e_comp * peak) + ceil(M/mr) * N*K /\n"
               "decode, the probed ceilings fixed, mr the rows of the kernel's register tile (each pass of it\n"
               "decodes the weights again); t = t0 + max(tm, tc) + x * min(tm, tc), x the share of the shorter\n"
               "side the longer does not hide (0: the roofline's max; 1: the two add); t0 = %.2f us per call on\n"
               "this device (the fastest call: %.2f us)\n\n",
            ft->t0_s * 1e6, tmin * 1e6);
    fprintf(f, "%-20s %3s %-9s %6s %6s   %-22s %-22s %-10s %-7s  %-15s %-15s %-15s\n", "kernel", "thr", "format",
            "points", "shapes", "memory side", "compute side", "decoding", "exposed", "in sample", "shape left out",
            "held out");
    fprintf(f, "%-20s %3s %-9s %6s %6s   %-22s %-22s %-10s %-7s %s %s %s\n", "", "", "", "", "", "", "", "", "",
            " median     max", " median     max", " median     max");
    for (int i = 0; i < ft->n; i++) {
        const qt_kfit *k = &ft->v[i];
        char mem[40], comp[40], dec[24];
        snprintf(mem, sizeof mem, "%.2f of %.1f GB/s", k->mem_eff, k->bw_gbs);
        snprintf(comp, sizeof comp, "%.2f of %.0f GOP/s", k->comp_eff, k->peak_gops);
        if (k->decode_gws > 0)
            snprintf(dec, sizeof dec, "%.0f G/s", k->decode_gws);
        else
            snprintf(dec, sizeof dec, "free");
        fprintf(f, "%-20s %3d %-9s %6d %6d   %-22s %-22s %-10s %7.2f ", k->kernel, k->threads, k->format, k->fit.n,
                k->shapes, mem, comp, dec, k->exposed);
        pct(f, &k->fit);
        pct(f, &k->cv);
        pct(f, &k->held);
        fprintf(f, "\n");
    }
    fprintf(f, "\nin words:");
    for (int i = 0; i < ft->n; i++) {
        fprintf(f, "%s %s reaches %.2f of the DRAM read and %.2f of the %s peak", i ? ";" : "", ft->v[i].kernel,
                ft->v[i].mem_eff, ft->v[i].comp_eff, ft->v[i].format);
        if (ft->v[i].decode_gws > 0)
            fprintf(f, ", decoding %.0f G weights/s per pass", ft->v[i].decode_gws);
        fprintf(f, ", and hides %.0f%% of the shorter side", 100 * (1 - ft->v[i].exposed));
    }
    fprintf(f, "\n\nthe stated error per scheme, |predicted - measured| / measured:\n%-6s %6s %8s %8s   %-17s %-17s\n",
            "scheme", "points", "RMS", "median", "shape left out", "held out");
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        if (!ft->fit[s].n)
            continue;
        fprintf(f, "%-6s %6d %7.1f%% %7.1f%%  ", qk_scheme_name((qk_scheme)s), ft->fit[s].n, 100 * ft->fit[s].rms,
                100 * ft->fit[s].median);
        pct(f, &ft->cv[s]);
        fprintf(f, "   ");
        pct(f, &ft->held[s]);
        fprintf(f, "\n");
    }
    fprintf(f, "\nwhere each scheme's largest error lies (held out, else with its shape left out):\n");
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        const qt_errors *e = ft->held[s].worst ? &ft->held[s] : &ft->cv[s];
        if (!e->worst || e->worst > r->n_obs)
            continue;
        const qt_obs *o = &r->obs[e->worst - 1];
        fprintf(f, "  %-6s %5.1f%% %-7s %s %dx%d M=%d: measured %.4g ms (%.1f GB/s, %.1f GFLOP/s), predicted %.4g ms\n",
                qk_scheme_name((qk_scheme)s), 100 * e->max, e == &ft->held[s] ? "held" : "left", o->kernel, o->p.n,
                o->p.k, o->p.m, o->time_s * 1e3, o->bytes / o->time_s * 1e-9, o->flops / o->time_s * 1e-9,
                e->worst_predicted_s * 1e3);
    }
    int said = 0;
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        if (ft->unusual[s].n)
            fprintf(f, "%s%s %d, median %.1f%% max %.1f%%", said++ ? "; " : "left out of the fit and of these errors, "
                    "the points timed outside the machine's usual phase (\"usual\": false in the results), at "
                    "|predicted - measured| / measured: ", qk_scheme_name((qk_scheme)s), ft->unusual[s].n,
                    100 * ft->unusual[s].median, 100 * ft->unusual[s].max);
    if (said)
        fprintf(f, "\n");
    if (!crossovers)
        return;
    qt_scheme_model sm[QK_SCHEME_COUNT];
    qt_scheme_models(ft, sm);
    qt_tuned pm = {0};
    tune_per_m(r, &pm);
    fprintf(f, "\ncrossovers: the M where one scheme passes another, predicted by the model beside measured, at "
               "the M measured\n");
    int compared = 0, agreed = 0, unplaceable = 0;
    for (int i = 0; i < r->n_obs; i++) {
        const qk_problem *shape = &r->obs[i].p;
        int first = 1; /* each shape once */
        for (int j = 0; j < i; j++)
            first &= !(r->obs[j].p.n == shape->n && r->obs[j].p.k == shape->k);
        if (!first)
            continue;
        /* each scheme's problem on this shape: the first of its points here */
        const qk_problem *at[QK_SCHEME_COUNT] = {0};
        for (int j = 0; j < r->n_obs; j++)
            if (r->obs[j].p.n == shape->n && r->obs[j].p.k == shape->k && !at[r->obs[j].p.scheme])
                at[r->obs[j].p.scheme] = &r->obs[j].p;
        for (int a = 0; a < QK_SCHEME_COUNT; a++)
            for (int b = a + 1; b < QK_SCHEME_COUNT; b++) {
                if (!sm[a].present || !sm[b].present || !at[a] || !at[b])
                    continue;
                /* the order at each M measured for both, measured and predicted, ties within the
                 * margin; the measured gap beside the two schemes' stated error */
                int ms[64], om[64], op[64], n = 0;
                double gap[64];
                for (int x = 0; x < pm.n && n < 64; x++) {
                    const qt_winner *wa = &pm.v[x];
                    if (!qt_same_key(&wa->p, at[a]))
                        continue;
                    for (int y = 0; y < pm.n && n < 64; y++) {
                        const qt_winner *wb = &pm.v[y];
                        if (!qt_same_key(&wb->p, at[b]) || wb->m_hi != wa->m_hi)
                            continue;
                        qk_problem pa = *at[a], pb = *at[b];
                        pa.m = pb.m = wa->p.m;
                        qk_cost ca = qk_problem_cost(&pa), cb = qk_problem_cost(&pb);
                        ms[n] = wa->p.m;
                        gap[n] = fabs(wa->time_s - wb->time_s) / fmin(wa->time_s, wb->time_s);
                        om[n] = order(wa->time_s, wb->time_s);
                        op[n++] = order(qt_scheme_predict(&sm[a], ca.bytes, ca.flops, pa.m),
                                        qt_scheme_predict(&sm[b], cb.bytes, cb.flops, pb.m));
                    }
                }
                int tm[64], tp[64];
                const int ntm = n >= 2 ? turns(om, n, tm) : 0, ntp = n >= 2 ? turns(op, n, tp) : 0;
                if (!ntm && !ntp)
                    continue;
                const int agree = qt_orders_agree(om, op, n);
                /* a miss within the stated error: wherever the model's order is not the measured one,
                 * the measured gap is no larger than the two schemes' in-sample median errors added */
                const double stated = ft->fit[a].median + ft->fit[b].median;
                int within = 1;
                for (int i = 0; i < n; i++)
                    within &= om[i] == op[i] || gap[i] <= stated;
                int dir, m = qt_crossover(&sm[a], at[a], &sm[b], at[b], ms[n - 1], &dir);
                compared++, agreed += agree, unplaceable += !agree && within;
                fprintf(f, "  %dx%d %s / %s: predicted ", shape->n, shape->k, qk_scheme_name((qk_scheme)a),
                        qk_scheme_name((qk_scheme)b));
                print_turns(f, tp, ntp, op, ms, n, a, b);
                if (ntp)
                    fprintf(f, " (the model's crossing: M≈%d)", m);
                fprintf(f, "; measured: ");
                print_turns(f, tm, ntm, om, ms, n, a, b);
                fprintf(f, "%s\n", agree ? "" : within ? "  [more than one M apart; within the stated error]" : "  [more than one M apart]");
            }
    }
    fprintf(f, "  %d of %d pairs' turns predicted within one measured M of where they were measured (orders within "
               "%d%% are ties and pass no turn; wherever the model's order is not the measured one, the measured "
               "order next to it is the model's or a tie)", agreed, compared, QT_TIE_MARGIN_PCT);
    if (compared > agreed)
        fprintf(f, "; %d of the %d misses are within the stated error: wherever the orders differ, the measured gap "
                   "is no larger than the two schemes' in-sample median errors added", unplaceable, compared - agreed);
    fprintf(f, "\n");
    qt_tuned_free(&pm);
}

/* A copy of prof with the results' fit in it (the results' hash as its provenance). */
static qp_profile *fitted_profile(const cli_results *r, const qp_profile *prof)
{
    const qt_fitted *ft = &r->fit;
    qp_fit_model *m = qc_xcalloc((size_t)ft->n + 1, sizeof *m);
    for (int i = 0; i < ft->n; i++) {
        const qt_kfit *k = &ft->v[i];
        m[i] = (qp_fit_model){.threads = k->threads, .mem_eff = k->mem_eff, .comp_eff = k->comp_eff,
                              .decode_gws = k->decode_gws, .exposed = k->exposed, .residual = k->fit.rms,
                              .cv_median = k->cv.n ? k->cv.median : -1,
                              .cv_max = k->cv.n ? k->cv.max : -1, .points = k->fit.n};
        snprintf(m[i].kernel, sizeof m[i].kernel, "%s", k->kernel);
        snprintf(m[i].format, sizeof m[i].format, "%s", k->format);
    }
    qp_profile *copy = qp_profile_copy(prof);
    qp_profile_set_fit(copy, r->hash, ft->t0_s, m, ft->n);
    free(m);
    return copy;
}

int cli_fit_write(const cli_results *r, const qp_profile *prof, const char *path, qc_msgs *err)
{
    qp_profile *copy = fitted_profile(r, prof);
    int rc = qp_profile_write(copy, path, err);
    qp_profile_free(copy);
    return rc;
}

int cli_profile_named(const char *what, qp_profile **out, qc_msgs *err)
{
    *out = NULL;
    struct stat st;
    if (strchr(what, '/') || (stat(what, &st) == 0 && S_ISREG(st.st_mode)))
        return qp_profile_load(what, out, err);
    qp_catalog cat;
    qp_catalog_load_with_host(&cat, NULL);
    const qp_profile *p = qp_catalog_find(&cat, what);
    if (p)
        *out = qp_profile_copy(p);
    qp_catalog_free(&cat);
    if (*out)
        return QC_OK;
    qc_msgs_addf(err, "no profile named '%s' ('qbench profile list' shows the known ones; a profile's file is "
                      "read where a path is given)", what);
    return QC_EINPUT;
}

int cli_profile_for(const char *want, const char *device, qp_profile **out, qc_msgs *err)
{
    int rc = cli_profile_named(want ? want : device, out, err);
    if (rc)
        return rc;
    if (strcmp((*out)->name, device) && !qp_profile_named(*out, device)) {
        qc_msgs_addf(err, "the results were made on %s, the profile is %s (fit results against the profile of the "
                          "device they were measured on)", device, (*out)->name);
        qp_profile_free(*out);
        *out = NULL;
        return QC_EINPUT;
    }
    return QC_OK;
}

/* ------------------------------------------------------------------ tune, emit */

int cli_tune_option(int o, const char *arg, cli_tune_args *t, qc_msgs *err)
{
    if (o == 'b') {
        int rc = qb_parse_ints("--buckets", arg, 1, 1 << 30, t->edges, &t->n_edges, err);
        for (int i = 1; i < t->n_edges; i++) /* ascending */
            for (int j = i; j > 0 && t->edges[j] < t->edges[j - 1]; j--) {
                int x = t->edges[j];
                t->edges[j] = t->edges[j - 1];
                t->edges[j - 1] = x;
            }
        return rc;
    }
    if (o == 's')
        return qc_parse_double(arg, -100, 300, "--min-sqnr", &t->min_sqnr_db, err);
    if (o == 't') {
        double pct;
        int rc = qc_parse_double(arg, 0, 100, "--tie-margin", &pct, err);
        t->tie_margin = pct / 100;
        return rc;
    }
    return qc_parse_double(arg, 1e-12, 1e6, "--max-error", &t->max_error, err);
}

int cli_timing_option(const char *name, const char *arg, qb_measure_opts *m, int *warm, qc_msgs *err)
{
    if (!strcmp(name, "cache")) {
        if (strcmp(arg, "warm") && strcmp(arg, "cold")) {
            qc_msgs_addf(err, "--cache '%s': use warm or cold", arg);
            return QC_EINPUT;
        }
        *warm = !strcmp(arg, "warm");
        return QC_OK;
    }
    if (!strcmp(name, "max-cv")) {
        double pct;
        int rc = qc_parse_double(arg, 0.01, 100, "--max-cv", &pct, err);
        m->max_cv = pct / 100;
        return rc;
    }
    return qc_parse_double(arg, 0.001, 86400, "--budget", &m->budget_s, err);
}

int cli_act_option(const char *text, const qm_model *model, int *bf16, qc_msgs *err)
{
    if (!text) {
        *bf16 = model && !strcmp(qm_model_arch(model)->torch_dtype, "bfloat16");
        return QC_OK;
    }
    if (strcmp(text, "fp16") && strcmp(text, "bf16")) {
        qc_msgs_addf(err, "--act '%s': use fp16 or bf16", text);
        return QC_EINPUT;
    }
    *bf16 = !strcmp(text, "bf16");
    return QC_OK;
}

int cli_tune(const cli_results *r, const cli_tune_args *a, qt_tuned *out, qc_msgs *err)
{
    /* SQNR is the relative error in dB: --min-sqnr D is an error limit of 10^(−D/20) (the tighter stands) */
    double max_error = a->max_error;
    if (a->min_sqnr_db != 0) {
        double lim = pow(10, -a->min_sqnr_db / 20);
        max_error = max_error > 0 ? fmin(max_error, lim) : lim;
    }
    qt_tune_opts o = {.bucket_edges = a->n_edges ? a->edges : NULL, .n_edges = a->n_edges, .max_error = max_error,
                      .fit = &r->fit, .verdicts = r->verdicts, .n_verdicts = r->n_verdicts, .races = r->races,
                      .n_races = r->n_races};
    return qt_tune(r->obs, r->n_obs, &o, out, err);
}

/* "g128", "g-1 asym", "fp8 per channel", "bf16 in", "f32": a winner's options, for tables and labels. */
static void options_text(const qk_problem *p, char *buf, size_t len)
{
    int o = 0;
    buf[0] = '\0';
    if (qk_scheme_grouped(p->scheme) || p->group)
        o += snprintf(buf + o, len - (size_t)o, "g%d%s", p->group, p->asym ? " asym" : "");
    if (p->fp8_channel)
        o += snprintf(buf + o, len - (size_t)o, "%sfp8 per channel", o ? " " : "");
    if (p->act_bf16 && p->scheme != QK_BF16)
        o += snprintf(buf + o, len - (size_t)o, "%sbf16 in", o ? " " : "");
    if (p->out_f32)
        snprintf(buf + o, len - (size_t)o, "%sf32", o ? " " : "");
}

static void cell_label(const qk_problem *key, char *buf, size_t len);

void cli_tune_report(const qt_tuned *t, double tie_margin, FILE *f)
{
    fprintf(f, "%-6s %-14s %-14s %-12s %-18s %-44s %10s %s\n", "scheme", "N x K", "options", "M bucket", "kernel",
            "configuration", "time (us)", "");
    int checked = 0, replaced = 0;
    for (int i = 0; i < t->n; i++) {
        const qt_winner *w = &t->v[i];
        char shape[32], bucket[32], opts[64], note[160] = "";
        snprintf(shape, sizeof shape, "%dx%d", w->p.n, w->p.k);
        snprintf(bucket, sizeof bucket, "(%d, %d]", w->m_lo, w->m_hi);
        options_text(&w->p, opts, sizeof opts);
        if (w->verified > 0)
            snprintf(note, sizeof note, "re-measured: %.1f%% faster than the default", 100 * (1 - w->verify_ratio));
        else if (w->verified < 0)
            snprintf(note, sizeof note, "re-measured: the winner (%.1f%% %s) did not beat the default beyond the "
                     "noise; the default stands", 100 * fabs(1 - w->verify_ratio),
                     w->verify_ratio < 1 ? "faster" : "slower");
        else if (w->noisy)
            snprintf(note, sizeof note, "noisy: its timing stayed above --max-cv; the default configuration stands");
        else if (w->tie)
            snprintf(note, sizeof note, "tie: the simpler configuration stands");
        checked += w->verified != 0;
        replaced += w->verified < 0;
        fprintf(f, "%-6s %-14s %-14s %-12s %-18s %-44s %10.1f %s\n", qk_scheme_name(w->p.scheme), shape,
                opts[0] ? opts : "-", bucket, w->kernel, w->config, w->time_s * 1e6, note);
    }
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        if (t->excluded[s])
            fprintf(f, "excluded: %s (its quantization error exceeds --max-error or its SQNR is under --min-sqnr)\n", qk_scheme_name((qk_scheme)s));
    if (checked)
        fprintf(f, "\nnever worse than the default: %d winners re-measured side by side with their kernel's default "
                   "configuration; %d did not beat it beyond the noise and gave way to it\n",
                checked, replaced);
    /* the winning scheme of each cell, ties named */
    qt_cell *cells = NULL;
    int nc = 0;
    if (!qt_cells(t, tie_margin, &cells, &nc)) {
        fprintf(f, "\nthe fastest scheme per cell (a tie: within %.0f%% or the noise; the more accurate first)\n",
                100 * (tie_margin > 0 ? tie_margin : QT_TIE_MARGIN_PCT / 100.0));
        for (int c = 0; c < nc; c++) {
            char label[96], bucket[32];
            cell_label(&cells[c].key, label, sizeof label);
            snprintf(bucket, sizeof bucket, "(%d, %d]", cells[c].m_lo, cells[c].m_hi);
            fprintf(f, "  %-26s %-12s %s", label, bucket, qk_scheme_name((qk_scheme)cells[c].scheme));
            if (cells[c].tie)
                fprintf(f, "  tie with %s (%.1f%% apart)", qk_scheme_name((qk_scheme)cells[c].scheme2),
                        100 * fabs(cells[c].w2->time_s / cells[c].w->time_s - 1));
            fprintf(f, "\n");
        }
        free(cells);
    }
    fprintf(f, "\nroofline pruning (time only configurations predicted within 1.25x of the best): %d of %d points "
               "timed (%d saved); the same winner in %d of %d cells\n",
            t->points_kept, t->points, t->points - t->points_kept, t->same_winners, t->cells);
}

int cli_emit(const cli_results *r, const qt_tuned *t, double tie_margin, const char *format, const char *path,
             qc_msgs *err)
{
    qt_scheme_model models[QK_SCHEME_COUNT];
    qt_scheme_models(&r->fit, models);
    qt_emit_info info = {.device = r->device, .source_hash = r->hash, .models = models, .tuned = t,
                         .tie_margin = tie_margin};
    qc_outfile o;
    int rc = qc_outfile_open(&o, path, err);
    if (rc)
        return rc;
    if ((rc = qt_emit(&info, format, o.f, err)) == QC_EINPUT) {
        qc_outfile_abort(&o);
        return rc;
    }
    int crc = qc_outfile_commit(&o, err); /* a failed write: the file is left as it was, and why is said */
    return crc ? crc : rc;
}

/* ------------------------------------------------------------------ per-M tables: summary, plot */

/* The results tuned at every M measured: one winner per (scheme, options, M). */
static int tune_per_m(const cli_results *r, qt_tuned *t)
{
    int *ms = qc_xcalloc((size_t)r->n_obs + 1, sizeof *ms), nm = 0;
    for (int i = 0; i < r->n_obs; i++) {
        int seen = 0;
        for (int j = 0; j < nm; j++)
            seen |= ms[j] == r->obs[i].p.m;
        if (!seen)
            ms[nm++] = r->obs[i].p.m;
    }
    for (int i = 1; i < nm; i++)
        for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
            int x = ms[j];
            ms[j] = ms[j - 1];
            ms[j - 1] = x;
        }
    qt_tune_opts o = {.bucket_edges = ms, .n_edges = nm, .fit = &r->fit, .verdicts = r->verdicts,
                      .n_verdicts = r->n_verdicts, .races = r->races, .n_races = r->n_races};
    int rc = qt_tune(r->obs, r->n_obs, &o, t, NULL);
    free(ms);
    return rc;
}

/* "4096x14336" or "4096x14336 g128" (the options of a cell) */
static void cell_label(const qk_problem *key, char *buf, size_t len)
{
    char opts[40];
    options_text(key, opts, sizeof opts);
    snprintf(buf, len, "%dx%d%s%s", key->n, key->k, opts[0] ? " " : "", opts);
}

static int failed_at(const cli_results *r, const qk_problem *key, int scheme, int m)
{
    for (int i = 0; i < r->res.n; i++) {
        const qb_point *p = &r->res.v[i];
        if (p->status == QB_FAILED && (int)p->p.scheme == scheme && p->p.m == m && qt_cell_matches(key, &p->p))
            return 1;
    }
    return 0;
}

/* The fastest point at (cell, scheme, M) among qbench's own kernels (provider 0) or the
 * libraries' (provider 1); NULL when none was timed. */
static const qt_obs *fastest_of(const cli_results *r, const qk_problem *key, int scheme, int m, int provider)
{
    const qt_obs *best = NULL;
    for (int i = 0; i < r->n_obs; i++) {
        const qt_obs *o = &r->obs[i];
        if (o->time_s > 0 && (int)o->p.scheme == scheme && o->p.m == m && qt_cell_matches(key, &o->p) &&
            qk_kernel_is_provider(o->k) == provider && (!best || o->time_s < best->time_s))
            best = o;
    }
    return best;
}

/* The race between qbench's kernel and a library's at (cell, scheme, M): the median of the
 * library's time ÷ ours; 0 when they were not raced. */
static double library_race(const cli_results *r, const qk_problem *key, int scheme, int m)
{
    for (int i = 0; i < r->n_races; i++) {
        const qt_race *x = &r->races[i];
        const qk_kernel *ka = qk_kernel_find(x->a.kernel), *kb = qk_kernel_find(x->b.kernel);
        if (!ka || !kb || (int)x->a.p.scheme != scheme || x->b.p.scheme != x->a.p.scheme || x->a.p.m != m ||
            x->b.p.m != m || !qt_cell_matches(key, &x->a.p) || !qt_cell_matches(key, &x->b.p) ||
            qk_kernel_is_provider(ka) == qk_kernel_is_provider(kb))
            continue;
        return qk_kernel_is_provider(ka) ? x->ratio : 1 / x->ratio; /* a's time ÷ b's */
    }
    return 0;
}

/* Did a cell before c hold the same points of scheme s (its row was printed there)? A cell
 * holds the points qt_cell_matches gives it: the options scheme s has decide. */
static int shown_before(const qt_cell *cells, int c, int s)
{
    qk_problem w = cells[c].key;
    w.scheme = (qk_scheme)s;
    for (int e = 0; e < c; e++)
        if (qt_cell_matches(&cells[e].key, &w))
            return 1;
    return 0;
}

/* Per scheme and M of a cell: qbench's fastest kernel against the fastest library kernel
 * measured in the same run, as a speed ratio: from their race where they were raced (marked *),
 * else from the sweep's medians. Nothing when no library kernel was measured, and nothing for a
 * scheme whose points an earlier cell held (a second int4 group of the shape, for a scheme that
 * has none: the same row again). Returns whether a race gave one. */
static int ours_vs_library(const cli_results *r, const qt_cell *cells, int nc, int c, FILE *f)
{
    const qk_problem *key = &cells[c].key;
    int with[QK_SCHEME_COUNT] = {0}, again[QK_SCHEME_COUNT], any = 0;
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        again[s] = shown_before(cells, c, s);
    for (int d = c; d < nc; d++)
        if (!memcmp(&cells[d].key, key, sizeof *key))
            for (int s = 0; s < QK_SCHEME_COUNT; s++)
                if (!again[s] && fastest_of(r, key, s, cells[d].m_hi, 1))
                    any = with[s] = 1;
    if (!any)
        return 0;
    int any_race = 0;
    fprintf(f, "ours / best library (speed, same run; above 1: qbench's kernel is faster)\n%7s", "M");
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        if (with[s])
            fprintf(f, " %10s", qk_scheme_name((qk_scheme)s));
    fprintf(f, "\n");
    for (int d = c; d < nc; d++) {
        if (memcmp(&cells[d].key, key, sizeof *key))
            continue;
        fprintf(f, "%7d", cells[d].m_hi);
        for (int s = 0; s < QK_SCHEME_COUNT; s++) {
            if (!with[s])
                continue;
            const qt_obs *ours = fastest_of(r, key, s, cells[d].m_hi, 0), *lib = fastest_of(r, key, s, cells[d].m_hi, 1);
            double raced = library_race(r, key, s, cells[d].m_hi);
            any_race |= raced > 0;
            if (raced > 0)
                fprintf(f, " %9.2fx*", raced);
            else if (ours && lib)
                fprintf(f, " %9.2fx ", lib->time_s / ours->time_s);
            else
                fprintf(f, " %10s ", "-");
        }
        fprintf(f, "\n");
    }
    return any_race;
}

/* A model's totals: per scheme, the weights; per M, a pass through every linear layer and the
 * decode bound it sets; then which layer each shape is. */
static void model_totals(const cli_results *r, const qt_tuned *t, FILE *f)
{
    qt_total *tot = NULL;
    int n = 0;
    if (!r->n_layers || qt_model_totals(t, r->layers, r->n_layers, r->blocks, &tot, &n) || !n) {
        free(tot);
        return;
    }
    int ns = 0; /* the schemes: each M's row has one entry per scheme, in the same order */
    while (ns < n && tot[ns].m == tot[0].m)
        ns++;
    fprintf(f, "\n%s: %d blocks, a pass of M tokens through every linear layer (attention, embeddings and the "
               "rest not counted)\n%-22s", r->model, r->blocks, "");
    for (int s = 0; s < ns; s++)
        fprintf(f, " %12s", qk_scheme_name((qk_scheme)tot[s].scheme));
    fprintf(f, "\n%-22s", "weights (GB)");
    for (int s = 0; s < ns; s++)
        fprintf(f, " %12.4g", tot[s].weight_gb);
    for (int pass = 0; pass < 2; pass++)
        for (int row = 0; row < n; row += ns) {
            fprintf(f, "\n%-6s M=%-6d %-6s", pass ? "decode" : "pass", tot[row].m, pass ? "tok/s" : "ms");
            for (const qt_total *x = tot + row; x < tot + row + ns; x++)
                if (x->missing)
                    fprintf(f, " %12s", "-");
                else if (pass)
                    fprintf(f, " %12.1f", x->tokens_s);
                else
                    fprintf(f, " %12.3f", x->pass_s * 1e3);
        }
    fprintf(f, "\nlayers:");
    for (int i = 0; i < r->n_layers; i++)
        fprintf(f, "%s %s %dx%d%s", i ? "," : "", r->layers[i].name, r->layers[i].n, r->layers[i].k,
                r->layers[i].experts ? " (routed expert)" : "");
    fprintf(f, "\n");
    free(tot);
}

void cli_summary(const cli_results *r, double tie_margin, FILE *f)
{
    qt_tuned t;
    qt_cell *cells = NULL;
    int nc = 0;
    if (tune_per_m(r, &t) || qt_cells(&t, tie_margin, &cells, &nc))
        return;
    const int predicted = r->res.n && r->res.v[0].status == QB_PREDICTED;
    int any_noisy = 0, any_tie = 0, any_race = 0;
    for (int c = 0; c < nc; c++) {
        const qk_problem *key = &cells[c].key;
        int first = 1; /* one table per cell key, its rows the M buckets */
        for (int j = 0; j < c; j++)
            first &= !!memcmp(&cells[j].key, key, sizeof *key);
        if (!first)
            continue;
        char label[96];
        cell_label(key, label, sizeof label);
        fprintf(f, "\n%s: median time per call in microseconds (tuned configuration)%s\n", label,
                predicted ? ", predicted" : "");
        fprintf(f, "%7s", "M");
        for (int s = 0; s < QK_SCHEME_COUNT; s++)
            fprintf(f, " %10s", qk_scheme_name((qk_scheme)s));
        fprintf(f, "  %-14s %14s %14s\n", "fastest", "w4a16 vs fp16", "w4a16 vs w8a8");
        for (int d = c; d < nc; d++) {
            if (memcmp(&cells[d].key, key, sizeof *key))
                continue;
            const int m = cells[d].m_hi;
            double best[QK_SCHEME_COUNT] = {0};
            int noisy[QK_SCHEME_COUNT] = {0};
            for (int i = 0; i < t.n; i++)
                if (t.v[i].m_hi == m && qt_cell_matches(key, &t.v[i].p)) {
                    best[t.v[i].p.scheme] = t.v[i].time_s;
                    noisy[t.v[i].p.scheme] = t.v[i].noisy;
                    any_noisy |= t.v[i].noisy;
                }
            fprintf(f, "%7d", m);
            for (int s = 0; s < QK_SCHEME_COUNT; s++) {
                if (best[s])
                    fprintf(f, " %9.1f%c", best[s] * 1e6, noisy[s] ? '~' : ' ');
                else
                    fprintf(f, " %10s", failed_at(r, key, s, m) ? "FAILED" : "-");
            }
            double w4 = best[QK_W4A16];
            char r1[24] = "-", r2[24] = "-";
            if (w4 && best[QK_FP16])
                snprintf(r1, sizeof r1, "%.2fx %s", best[QK_FP16] / w4, w4 < best[QK_FP16] ? "faster" : "slower");
            if (w4 && best[QK_W8A8])
                snprintf(r2, sizeof r2, "%.2fx %s", best[QK_W8A8] / w4, w4 < best[QK_W8A8] ? "faster" : "slower");
            char fastest[32];
            snprintf(fastest, sizeof fastest, "%s%s%s%s", qk_scheme_name((qk_scheme)cells[d].scheme),
                     cells[d].tie ? "=" : "", cells[d].tie ? qk_scheme_name((qk_scheme)cells[d].scheme2) : "",
                     cells[d].race ? " *" : "");
            any_tie |= cells[d].tie;
            any_race |= cells[d].race != NULL;
            fprintf(f, "  %-14s %14s %14s\n", fastest, r1, r2);
        }
        any_race |= ours_vs_library(r, cells, nc, c, f);
    }
    model_totals(r, &t, f);
    if (any_noisy)
        fprintf(f, "~ noisy: the point's timing stayed above --max-cv within its budget (the tuner treats it as a "
                   "tie)\n");
    if (any_tie)
        fprintf(f, "a=b: a tie, the two within %.0f%% or within the noise of their measurements; the more accurate "
                   "named first\n", 100 * (tie_margin > 0 ? tie_margin : QT_TIE_MARGIN_PCT / 100.0));
    if (any_race)
        fprintf(f, "*: decided by the two fastest timed again side by side (A, B, A, B: a close race), not by the "
                   "medians above; beside a library's ratio: from ours and the library's timed again so\n");
    free(cells);
    qt_tuned_free(&t);
}

int cli_plot(const cli_results *r, const qt_tuned *t, double tie_margin, const char *dir, int *written, qc_msgs *err)
{
    /* the roofline: every run, and the ceilings recorded with the sweep */
    qv_point *pts = qc_xcalloc((size_t)r->n_obs + 1, sizeof *pts);
    for (int i = 0; i < r->n_obs; i++)
        pts[i] = (qv_point){r->obs[i].p.scheme, r->obs[i].flops / r->obs[i].bytes,
                            r->obs[i].flops / r->obs[i].time_s / 1e9};
    json_t *c = json_object_get(json_object_get(r->res.context, "qbench"), "ceilings");
    json_t *bw = json_object_get(c, "bandwidth"), *pk = json_object_get(c, "peak");
    size_t nceil = json_array_size(bw) + json_array_size(pk), i;
    qv_ceiling *ceil = qc_xcalloc(nceil + 1, sizeof *ceil);
    int nc = 0;
    json_t *e;
    json_array_foreach(bw, i, e)
    {
        double v = json_number_value(json_object_get(e, "gbs"));
        const char *level = json_string_value(json_object_get(e, "level"));
        snprintf(ceil[nc].label, sizeof ceil[nc].label, "%s %.1f GB/s", level ? level : "?", v);
        ceil[nc++].gbs = v;
    }
    json_array_foreach(pk, i, e)
    {
        double v = json_number_value(json_object_get(e, "gops"));
        const char *format = json_string_value(json_object_get(e, "format"));
        snprintf(ceil[nc].label, sizeof ceil[nc].label, "%s %.0f GOP/s", format ? format : "?", v);
        ceil[nc++].gops = v;
    }
    /* the model: each scheme's fitted roof, its lines against M, its residuals */
    qt_scheme_model sm[QK_SCHEME_COUNT];
    qt_scheme_models(&r->fit, sm);
    qv_model_roof roofs[QK_SCHEME_COUNT];
    int nroof = 0;
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        if (sm[s].present)
            roofs[nroof++] = (qv_model_roof){s, sm[s].small.bw_gbs, sm[s].small.peak_gops};
    qv_residual *res = qc_xcalloc((size_t)r->n_obs + 1, sizeof *res);
    int nres = 0;
    for (int a = 0; a < r->n_obs; a++) {
        qt_model mm;
        if (qt_fitted_model(&r->fit, &r->obs[a], &mm))
            res[nres++] = (qv_residual){r->obs[a].p.scheme, r->obs[a].p.m,
                                        qt_predict(&mm, r->obs[a].bytes, r->obs[a].flops, r->obs[a].p.m) /
                                            r->obs[a].time_s,
                                        r->obs[a].holdout};
    }
    /* throughput against M: per shape, one line per scheme and options, from the per-M tuning
     * (sorted by key, then M: a line is a run of winners with the same key) */
    enum { MODEL_POINTS = 48 };
    qt_tuned pm = {0};
    tune_per_m(r, &pm);
    qv_line *lines = qc_xcalloc((size_t)pm.n + 1, sizeof *lines), *grouped = qc_xcalloc((size_t)pm.n + 1, sizeof *grouped);
    qv_shape *shapes = qc_xcalloc((size_t)pm.n + 1, sizeof *shapes);
    int *line_shape = qc_xcalloc((size_t)pm.n + 1, sizeof *line_shape), ns = 0, nl = 0, ng = 0;
    double *ms = qc_xcalloc((size_t)pm.n + 1, sizeof *ms), *gf = qc_xcalloc((size_t)pm.n + 1, sizeof *gf);
    double *mm = qc_xcalloc((size_t)(pm.n + 1) * MODEL_POINTS, sizeof *mm),
           *mg = qc_xcalloc((size_t)(pm.n + 1) * MODEL_POINTS, sizeof *mg);
    for (int a = 0; a < pm.n; a++) {
        const qt_winner *w = &pm.v[a];
        if (!a || !qt_same_key(&w->p, &pm.v[a - 1].p)) {
            qv_line *l = &lines[nl];
            char opts[24], name[48];
            options_text(&w->p, opts, sizeof opts);
            snprintf(l->label, sizeof l->label, "%s%s%s", qk_scheme_name(w->p.scheme), opts[0] ? " " : "", opts);
            l->scheme = w->p.scheme;
            l->m = ms + a;
            l->y = gf + a;
            snprintf(name, sizeof name, "%dx%d", w->p.n, w->p.k);
            int sh = 0;
            while (sh < ns && strcmp(shapes[sh].name, name))
                sh++;
            if (sh == ns)
                snprintf(shapes[ns++].name, sizeof shapes[0].name, "%s", name);
            line_shape[nl] = sh;
            if (sm[w->p.scheme].present) { /* the model from M = 1 to twice the largest M swept */
                int mmax = 1;
                for (int b = a; b < pm.n && qt_same_key(&pm.v[b].p, &w->p); b++)
                    mmax = pm.v[b].p.m > mmax ? pm.v[b].p.m : mmax;
                l->model_m = mm + (size_t)nl * MODEL_POINTS;
                l->model_y = mg + (size_t)nl * MODEL_POINTS;
                for (int q = 0; q < MODEL_POINTS; q++) {
                    qk_problem pq = w->p;
                    pq.m = (int)(pow(2.0 * mmax, (double)q / (MODEL_POINTS - 1)) + 0.5);
                    if (q && pq.m <= (int)l->model_m[l->n_model - 1])
                        continue;
                    qk_cost cq = qk_problem_cost(&pq);
                    double tq = qt_scheme_predict(&sm[w->p.scheme], cq.bytes, cq.flops, pq.m);
                    if (tq > 0) {
                        ((double *)l->model_m)[l->n_model] = pq.m;
                        ((double *)l->model_y)[l->n_model++] = cq.flops / tq / 1e9;
                    }
                }
            }
            nl++;
        }
        ms[a] = w->p.m;
        gf[a] = qk_problem_cost(&w->p).flops / w->time_s / 1e9;
        lines[nl - 1].n++;
    }
    for (int sh = 0; sh < ns; sh++) {
        shapes[sh].lines = grouped + ng;
        for (int l = 0; l < nl; l++)
            if (line_shape[l] == sh) {
                grouped[ng++] = lines[l];
                shapes[sh].n_lines++;
            }
    }
    qv_input in = {.device = r->device, .points = pts, .n_points = r->n_obs, .ceilings = ceil, .n_ceilings = nc,
                   .shapes = shapes, .n_shapes = ns, .model_roofs = roofs, .n_model_roofs = nroof,
                   .residuals = res, .n_residuals = nres};
    /* a model: tokens/s against the batch, one line per scheme */
    qt_total *tot = NULL;
    int ntot = 0;
    qv_shape tokens = {0};
    qv_line tlines[QK_SCHEME_COUNT];
    double tm[QK_SCHEME_COUNT][256], ty[QK_SCHEME_COUNT][256];
    if (r->n_layers && !qt_model_totals(&pm, r->layers, r->n_layers, r->blocks, &tot, &ntot) && ntot) {
        snprintf(tokens.name, sizeof tokens.name, "%s", r->model);
        for (int s = 0; s < QK_SCHEME_COUNT; s++) {
            qv_line *l = &tlines[tokens.n_lines];
            memset(l, 0, sizeof *l);
            for (int i = 0; i < ntot && l->n < 256; i++)
                if (tot[i].scheme == s && tot[i].tokens_s > 0) {
                    tm[s][l->n] = tot[i].m;
                    ty[s][l->n++] = tot[i].tokens_s;
                }
            if (!l->n)
                continue;
            snprintf(l->label, sizeof l->label, "%s", qk_scheme_name((qk_scheme)s));
            l->scheme = s;
            l->m = tm[s];
            l->y = ty[s];
            tokens.n_lines++;
        }
        tokens.lines = tlines;
        in.tokens = tokens.n_lines ? &tokens : NULL;
    }
    /* the winners: the fastest scheme per cell of the table being emitted, ties named */
    qt_cell *cells = NULL;
    int ncell = 0;
    qt_cells(t, tie_margin, &cells, &ncell);
    qv_cell *win = qc_xcalloc((size_t)ncell + 1, sizeof *win);
    for (int a = 0; a < ncell; a++) {
        cell_label(&cells[a].key, win[a].row, sizeof win[a].row);
        win[a].m_hi = cells[a].m_hi;
        win[a].scheme = cells[a].scheme;
        win[a].tie_with = cells[a].tie ? cells[a].scheme2 : -1;
    }
    in.winners = win;
    in.n_winners = ncell;
    int rc = qv_plot(&in, dir, written, err);
    free(pts), free(ceil), free(shapes), free(lines), free(grouped), free(line_shape), free(ms), free(gf);
    free(mm), free(mg), free(res), free(cells), free(win), free(tot);
    qt_tuned_free(&pm);
    return rc;
}

int cli_merge(const char *const *paths, int n, int force, const char *out, qb_merge_stats *st, qc_msgs *err)
{
    qb_results res;
    qc_msgs notes = {0};
    int rc = qb_results_merge(paths, n, force, &res, st, &notes, err);
    qc_msgs_print(&notes, stderr);
    qc_msgs_free(&notes);
    if (!rc)
        rc = qb_results_write(&res, out, err);
    qb_results_free(&res);
    return rc;
}

/* ------------------------------------------------------------------ a fleet's table */

typedef struct fleet_member {
    cli_results r;
    qt_tuned t;
    qt_scheme_model models[QK_SCHEME_COUNT];
    qp_profile *prof;   /* its profile (NULL when the catalog has none) */
    qp_profile *fitted; /* the profile with the results' fit: what a model-only device borrows */
    char device_name[256], basis[256];
} fleet_member;

static int cc_distance(const qp_profile *a, const qp_profile *b)
{
    if (a->match.cc_major < 0 || b->match.cc_major < 0)
        return 1000;
    return abs((a->match.cc_major - b->match.cc_major) * 10 + a->match.cc_minor - b->match.cc_minor);
}

int cli_emit_fleet(const char *const *paths, int n, const cli_tune_args *ta, const char *format, const char *path,
                   qc_msgs *err)
{
    qp_catalog cat;
    qp_catalog_load_with_host(&cat, NULL);
    fleet_member *fm = qc_xcalloc((size_t)(n + cat.n), sizeof *fm);
    qt_fleet_device *d = qc_xcalloc((size_t)(n + cat.n), sizeof *d);
    int nd = 0, rc = QC_OK;
    static const qt_tuned empty;
    /* the swept devices, one results file each */
    for (int i = 0; i < n && !rc; i++, nd++) {
        fleet_member *m = &fm[i];
        if ((rc = cli_results_load(&m->r, paths[i], err)) || (rc = cli_tune(&m->r, ta, &m->t, err)))
            break;
        qt_scheme_models(&m->r.fit, m->models);
        const qp_profile *p = qp_catalog_find(&cat, m->r.device);
        m->prof = p ? qp_profile_copy(p) : NULL;
        m->fitted = p ? fitted_profile(&m->r, p) : NULL;
        const char *dn = json_string_value(
            json_object_get(json_object_get(m->r.res.context, "qbench"), "device_name"));
        snprintf(m->device_name, sizeof m->device_name, "%s", dn ? dn : "");
        const int cuda = p && p->match.backend == QP_BACKEND_CUDA;
        d[nd] = (qt_fleet_device){
            .info = {.device = m->r.device, .source_hash = m->r.hash, .models = m->models, .tuned = &m->t,
                     .tie_margin = ta->tie_margin},
            .device_name = m->device_name, .aliases = p ? (const char *const *)p->aliases : NULL,
            .n_aliases = p ? p->n_aliases : 0,
            /* a CPU's profile pattern is this machine's; the results name their own CPU */
            .match = cuda && p->match.name ? p->match.name : "", .cuda = cuda,
            .cc_major = cuda ? p->match.cc_major : -1, .cc_minor = cuda ? p->match.cc_minor : -1, .nearest = -1};
    }
    /* the catalog's other GPU profiles, answered by the model of the nearest swept GPU */
    for (int c = 0; !rc && c < cat.n; c++) {
        const qp_profile *p = cat.v[c].profile;
        if (!p || cat.v[c].shadowed || p->match.backend != QP_BACKEND_CUDA)
            continue;
        int near = -1, swept = 0;
        for (int i = 0; i < n; i++) {
            swept |= !strcmp(fm[i].r.device, p->name);
            if (fm[i].fitted && fm[i].prof->match.backend == QP_BACKEND_CUDA &&
                (near < 0 || cc_distance(p, fm[i].prof) < cc_distance(p, fm[near].prof)))
                near = i;
        }
        if (swept || near < 0)
            continue;
        fleet_member *m = &fm[nd];
        int any = 0;
        for (int s = 0; s < QK_SCHEME_COUNT; s++)
            any |= qt_scheme_model_of(p, fm[near].fitted, (qk_scheme)s, &m->models[s], m->basis, sizeof m->basis);
        if (!any)
            continue;
        snprintf(m->basis, sizeof m->basis, "the ceilings of %s (%s) x the efficiencies fitted on %s", p->name,
                 p->measured.n_bw ? "measured" : "spec", fm[near].r.device);
        d[nd] = (qt_fleet_device){
            .info = {.device = p->name, .source_hash = fm[near].r.hash, .models = m->models, .tuned = &empty,
                     .tie_margin = ta->tie_margin},
            .device_name = "", .aliases = (const char *const *)p->aliases, .n_aliases = p->n_aliases,
            .match = p->match.name ? p->match.name : "", .cuda = 1, .cc_major = p->match.cc_major,
            .cc_minor = p->match.cc_minor, .nearest = near, .basis = m->basis};
        nd++;
    }
    if (!rc) {
        qc_outfile o;
        if (!(rc = qc_outfile_open(&o, path, err))) {
            if ((rc = qt_emit_fleet(d, nd, format, o.f, err)) == QC_EINPUT)
                qc_outfile_abort(&o);
            else {
                int crc = qc_outfile_commit(&o, err);
                rc = crc ? crc : rc;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        cli_results_free(&fm[i].r);
        qt_tuned_free(&fm[i].t);
        qp_profile_free(fm[i].prof);
        qp_profile_free(fm[i].fitted);
    }
    free(fm);
    free(d);
    qp_catalog_free(&cat);
    return rc;
}

/* ------------------------------------------------------------------ the chain of `qbench sweep` */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    stop_flag = sig;
}

/* SIGINT, SIGTERM, SIGHUP: set stop_flag (the sweep stops after its current point); restore
 * puts back what was there */
static const int stop_sigs[3] = {SIGINT, SIGTERM, SIGHUP};
static void signals_catch(struct sigaction old[3])
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++)
        sigaction(stop_sigs[i], &sa, &old[i]);
}
static void signals_restore(const struct sigaction old[3])
{
    for (int i = 0; i < 3; i++)
        sigaction(stop_sigs[i], &old[i], NULL);
}

static double noop(void *ctx)
{
    (void)ctx;
    return -1;
}

/* Google Benchmark's context (host, CPUs, caches, ...) plus a qbench section: the version, the
 * device and profile, and the ceilings the points were placed against (drawn by qbench plot). */
static json_t *make_context(const qp_profile *prof, const char *device, const char *device_name, int predict)
{
    json_t *context = NULL;
    cbench_options o = {.min_time = 0.001, .repetitions = 1};
    cbench_result r;
    if (cbench_run("qbench/context", noop, NULL, &o, &r, NULL) == QC_OK) {
        json_error_t je;
        json_t *doc = json_loads(r.json, 0, &je);
        context = json_incref(json_object_get(doc, "context"));
        json_decref(doc);
        cbench_result_free(&r);
    }
    if (!context)
        context = json_object();
    char date[32];
    qc_utc_now(date, sizeof date);
    json_t *q = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "version", QBENCH_VERSION, "device", device,
                          "device_name", device_name, "profile", prof->name, "created", date, "predicted", predict);
    json_t *bw = json_array(), *pk = json_array();
    for (int i = 0; i < prof->measured.n_bw; i++)
        if (prof->measured.bw[i].threads == prof->measured.threads)
            json_array_append_new(bw, json_pack("{s:s, s:f}", "level", prof->measured.bw[i].level, "gbs",
                                                prof->measured.bw[i].read_gbs));
    for (int i = 0; i < prof->measured.n_peak; i++)
        if (prof->measured.peak[i].threads == prof->measured.threads)
            json_array_append_new(pk, json_pack("{s:s, s:f}", "format", prof->measured.peak[i].format, "gops",
                                                prof->measured.peak[i].gops));
    if (!prof->measured.n_bw && prof->spec[QP_MEMORY_BANDWIDTH_GBS].present)
        json_array_append_new(bw, json_pack("{s:s, s:f}", "level", "memory (spec)", "gbs",
                                            prof->spec[QP_MEMORY_BANDWIDTH_GBS].value));
    static const qp_spec_id tensor[] = {QP_FP16_TFLOPS, QP_INT8_TOPS, QP_FP8_TFLOPS};
    for (int i = 0; i < 3 && !prof->measured.n_peak; i++)
        if (prof->spec[tensor[i]].present)
            json_array_append_new(pk, json_pack("{s:s, s:f}", "format", qp_spec_key(tensor[i]), "gops",
                                                prof->spec[tensor[i]].value * 1000));
    json_object_set_new(q, "ceilings", json_pack("{s:o, s:o}", "bandwidth", bw, "peak", pk));
    json_object_set_new(context, "qbench", q);
    return context;
}

/* context.qbench.model: what a --model sweep measured, enough for its per-model totals */
static json_t *model_context(const qm_model *m, const char *acts)
{
    const qm_arch *a = qm_model_arch(m);
    json_t *layers = json_array();
    for (int i = 0; i < a->n_layer; i++) {
        const qm_layer *l = &a->layer[i];
        json_array_append_new(layers, json_pack("{s:s, s:i, s:i, s:i, s:i, s:s}", "name", l->name, "n", l->n, "k", l->k,
                                                "count", l->count, "experts", l->experts, "measured_as",
                                                a->layer[l->same_as < 0 ? i : l->same_as].name));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:b, s:s, s:s, s:o}", "name", qm_model_name(m), "dir", qm_model_dir(m),
                     "model_type", a->model_type, "torch_dtype", a->torch_dtype, "blocks", a->blocks, "fused",
                     a->fused, "weights", qm_model_has_weights(m) ? "model" : "synthetic", "activations",
                     acts ? acts : "synthetic", "layers", layers);
}

int cli_device_profile(const char *device, int predict, qp_target *t, qc_msgs *err)
{
    memset(t, 0, sizeof *t);
    qh_host h;
    if (qh_host_discover(&h, err))
        return QC_ERUNTIME;
    qh_cuda cuda;
    qh_cuda_discover(&cuda);
    qp_catalog cat;
    qp_catalog_load(&cat);
    int rc = qp_target_resolve(device, &cat, &h, &cuda, t, err);
    if (!rc && !t->local && !predict) {
        qc_msgs_addf(err, "cannot measure on --device %s: %s (add --predict to fill the results from the profile's "
                          "ceilings through the roofline model; every point is then marked predicted)",
                     device, t->why);
        rc = QC_EINPUT;
    }
    if (!rc && t->local && t->cuda_index > 0) {
        qc_msgs_addf(err, "--device %s: the GPU kernels run on CUDA device 0 (set CUDA_VISIBLE_DEVICES to choose "
                          "another)", device);
        rc = QC_EINPUT;
    }
    if (rc) {
        qp_catalog_free(&cat);
        return rc;
    }
    if (!strcmp(device, "host")) { /* a measured profile of this CPU on the search path wins */
        const qp_profile *file = qp_catalog_find(&cat, "host");
        if (file && file->measured.n_bw && qp_profile_matches(file, QP_BACKEND_CPU, h.cpu.model, -1, -1)) {
            qp_profile_free(t->profile);
            t->profile = qp_profile_copy(file);
        }
    }
    qp_catalog_free(&cat);
    return rc;
}

/* A local device's profile without measured ceilings gets them, quickly. */
static int probe_if_missing(qp_target *t, qc_msgs *err)
{
    if (!t->local || t->profile->measured.n_bw)
        return QC_OK;
    fprintf(stderr, "qbench: profile %s has no measured ceilings: probing them (--quick)\n", t->profile->name);
    qp_profile_set_measured(t->profile, t->device_name);
    qh_host h;
    qh_cuda cuda;
    if (qh_host_discover(&h, err))
        return QC_ERUNTIME;
    qh_cuda_discover(&cuda);
    if (t->cuda_index == 0)
        return qp_probe_cuda(t->profile, 0, cuda.dev[0].cc_major, cuda.dev[0].cc_minor, 1, NULL, err);
    return qp_probe_host(t->profile, &h, 1, NULL, err);
}

/* fit, tune, emit and plot a results file into dir, naming each output on log */
static int after_sweep(const char *dir, const char *results, const qp_profile *profile, FILE *log, qc_msgs *err)
{
    cli_results r;
    int rc = cli_results_load(&r, results, err);
    if (rc) {
        cli_results_free(&r);
        return rc;
    }
    char path[4200];
    if (cli_fit(&r, NULL) == QC_OK) {
        snprintf(path, sizeof path, "%s/profile-%s.yaml", dir, profile->name);
        if (!(rc = cli_fit_write(&r, profile, path, err))) {
            fprintf(log, "  profile with ceilings and fit  %s\n\n", path);
            cli_fit_report(&r, log, 1);
            fprintf(log, "\n");
        }
    } else {
        fprintf(log, "  (no kernel has 2 timed points under measured ceilings: no fit)\n");
    }
    qt_tuned t = {0};
    cli_tune_args ta = {0};
    if (!rc)
        rc = cli_tune(&r, &ta, &t, err);
    if (!rc) {
        fprintf(log, "  results                        %s\n", results);
        static const struct { const char *format, *name; } outs[] = {
            {"header", "qbench_dispatch_%s.h"}, {"json", "qbench_dispatch_%s.json"}, {"vllm", "vllm_%s.json"}};
        for (int i = 0; i < 3 && !rc; i++) {
            char name[128];
            snprintf(name, sizeof name, outs[i].name, r.device);
            snprintf(path, sizeof path, "%s/%s", dir, name);
            if (!(rc = cli_emit(&r, &t, 0, outs[i].format, path, err)))
                fprintf(log, "  dispatch table (%-6s)         %s\n", outs[i].format, path);
        }
    }
    if (!rc) {
        char why[256];
        snprintf(path, sizeof path, "%s/plots", dir);
        int written = 0;
        if (!qv_available(why, sizeof why))
            fprintf(log, "  plots: skipped: %s\n", why);
        else if (!(rc = cli_plot(&r, &t, 0, path, &written, err)))
            fprintf(log, "  plots (%d, PNG and SVG)         %s\n", written, path);
    }
    qt_tuned_free(&t);
    cli_results_free(&r);
    return rc;
}

/* Into *t, the task that measured winner w's point in configuration cfg; 0 when it cannot be
 * timed again here (a GPU kernel) or res does not hold that point (a model's layer points are
 * named otherwise). */
static int remeasurable(const qt_winner *w, const qk_kernel *k, const qk_config *cfg, int warm, const qb_results *res,
                        qb_task *t)
{
    if (qk_kernel_is_cuda(k))
        return 0;
    qb_task_init(t, &w->p, k, cfg, -1, warm);
    return qb_results_find(res, t->point.name) != NULL;
}

/* Ties between schemes: in each cell (shape, options, measured M) whose runner-up is within
 * RACE_WINDOW of the fastest, the two are timed again interleaved in this process (A, B, A, B …),
 * which a slow phase of the machine cannot tilt, and the race decides the cell (qt_cells). The
 * race runs in RACE_ROUNDS rounds, each over every cell before the next begins, so that a cell's
 * rounds lie minutes apart: the cell names a winner when the median round's time ratio lies
 * beyond the tie margin and no round lies beyond it the other way (qt_rounds_verdict). On this
 * machine the phase of the memory (its read bandwidth moves between ~30 and ~55 GB/s for
 * minutes) changes which of two close schemes is faster; one round, however many pairs, sees
 * one phase. First, each of those two schemes whose runner-up kernel is within RACE_WINDOW of
 * it (w8a8.avx512vnni against w8a8.onednn) races it, and the faster in that race represents the
 * scheme (qt_tune): the sweep's medians would choose by the phase each was timed in; so does
 * every scheme with a library kernel, ours against the library's, which gives the summary's
 * "ours / best library" ratio. Into the results file, after each round. */
enum { RACE_PAIRS = 12 }; /* 4 on each of 3 placements of the weights */
enum { RACE_ROUNDS = 3 };
#define RACE_WINDOW 2.0 /* a slow phase of the machine moves a median that much */

/* The rounds raced between these two points (either way round). */
static int rounds_raced(const qb_results *res, const char *x, const char *y)
{
    int n = 0;
    for (int i = 0; i < res->n_ver; i++)
        n += res->ver[i].race && ((!strcmp(res->ver[i].winner, x) && !strcmp(res->ver[i].baseline, y)) ||
                                  (!strcmp(res->ver[i].winner, y) && !strcmp(res->ver[i].baseline, x)));
    return n;
}

/* Races two points of the results in round `round` (0, 1, …) unless that round has run (a
 * resumed sweep); *ran says whether it did. */
static int race(const cli_sweep_args *a, qb_bench *b, qb_results *res, const qt_winner *x, const qt_winner *y,
                int round, FILE *log, int *said, int *ran, qc_msgs *err)
{
    const qt_winner *side[2] = {x, y};
    qb_task tk[2];
    *ran = 0;
    for (int s = 0; s < 2; s++) {
        const qk_kernel *k = qk_kernel_find(side[s]->kernel);
        qk_config cfg;
        if (!k || qk_config_parse(k, &side[s]->p, side[s]->config, &cfg, NULL) ||
            !remeasurable(side[s], k, &cfg, a->axes.warm, res, &tk[s]))
            return QC_OK;
    }
    if (rounds_raced(res, tk[0].point.name, tk[1].point.name) > round)
        return QC_OK;
    if (!(*said)++)
        fprintf(log, "qbench: close races: each cell's two fastest schemes (within %gx of each other) again in %d "
                     "rounds, and each one's two fastest kernels, and ours against a library's, %d interleaved "
                     "pairs each\n", RACE_WINDOW, RACE_ROUNDS, RACE_PAIRS);
    qb_pair pr;
    int rc = qb_measure_pair(b, &tk[0], &tk[1], RACE_PAIRS, &pr, err);
    if (rc)
        return rc;
    qb_verification v = {.race = 1, .pairs = pr.pairs, .ratio = pr.ratio, .ratio_lo = pr.ratio_lo,
                         .ratio_hi = pr.ratio_hi, .keep = pr.ratio_hi < 1};
    snprintf(v.winner, sizeof v.winner, "%s", tk[0].point.name);
    snprintf(v.baseline, sizeof v.baseline, "%s", tk[1].point.name);
    qb_results_add_verification(res, &v);
    const int schemes = x->p.scheme != y->p.scheme;
    fprintf(log, "qbench:   %dx%d M=%d: %s ÷ %s time %.3f (quartiles %.3f–%.3f)", x->p.n, x->p.k, x->p.m,
            schemes ? qk_scheme_name(x->p.scheme) : x->kernel, schemes ? qk_scheme_name(y->p.scheme) : y->kernel,
            pr.ratio, pr.ratio_lo, pr.ratio_hi);
    if (schemes)
        fprintf(log, ", round %d of %d", round + 1, RACE_ROUNDS);
    fputc('\n', log);
    *ran = 1;
    return QC_OK;
}

/* A measured point as a side of a race. */
static qt_winner winner_of(const qt_obs *o)
{
    qt_winner w = {.p = o->p, .time_s = o->time_s};
    snprintf(w.kernel, sizeof w.kernel, "%s", o->kernel);
    snprintf(w.config, sizeof w.config, "%s", o->config);
    return w;
}

/* The fastest point of w's scheme, shape, options and M on another kernel, within RACE_WINDOW
 * of w; 0 when there is none. */
static int rival_kernel(const cli_results *r, const qt_winner *w, qt_winner *out)
{
    const qt_obs *best = NULL;
    for (int i = 0; i < r->n_obs; i++) {
        const qt_obs *o = &r->obs[i];
        if (!o->holdout && o->p.scheme == w->p.scheme && qt_same_key(&o->p, &w->p) && o->p.m == w->p.m &&
            strcmp(o->kernel, w->kernel) && o->time_s > 0 && o->time_s <= RACE_WINDOW * w->time_s &&
            (!best || o->time_s < best->time_s))
            best = o;
    }
    if (!best)
        return 0;
    *out = winner_of(best);
    return 1;
}

static int race_cells(const cli_sweep_args *a, qb_bench *b, qb_results *res, FILE *log, qc_msgs *err)
{
    int said = 0, rc = QC_OK;
    for (int pass = 0; !rc && pass <= RACE_ROUNDS; pass++) { /* the schemes' kernels, then the schemes' rounds */
        cli_results r;
        qt_tuned t = {0};
        qt_cell *cells = NULL;
        int nc = 0, ran = 0;
        qc_msgs none = {0}; /* nothing timed, nothing to race: the sweep's own summary says so */
        if (cli_results_load(&r, a->results, &none)) {
            qc_msgs_free(&none);
            return QC_OK;
        }
        if (tune_per_m(&r, &t) || qt_cells(&t, 0, &cells, &nc))
            nc = 0;
        for (int i = 0; !rc && i < nc; i++) {
            const qt_cell *c = &cells[i];
            /* ours against the library, for every scheme that has one here: the summary's ratio */
            for (int s = 0; pass == 0 && !rc && s < QK_SCHEME_COUNT; s++) {
                const qt_obs *ours = fastest_of(&r, &c->key, s, c->w->p.m, 0),
                             *lib = fastest_of(&r, &c->key, s, c->w->p.m, 1);
                if (!ours || !lib || ours->holdout || lib->holdout)
                    continue;
                qt_winner w = winner_of(ours->time_s < lib->time_s ? ours : lib), rv;
                int one = 0;
                if (rival_kernel(&r, &w, &rv))
                    rc = race(a, b, res, &w, &rv, 0, log, &said, &one, err);
                ran += one;
            }
            if (!c->w2 || c->w2->time_s > RACE_WINDOW * c->w->time_s || c->w->p.m != c->w2->p.m)
                continue;
            const qt_winner *side[2] = {c->w, c->w2};
            qt_winner rv;
            for (int s = 0; pass == 0 && !rc && s < 2; s++) {
                int one = 0;
                if (rival_kernel(&r, side[s], &rv))
                    rc = race(a, b, res, side[s], &rv, 0, log, &said, &one, err);
                ran += one;
            }
            if (pass > 0) {
                int one = 0;
                rc = race(a, b, res, c->w, c->w2, pass - 1, log, &said, &one, err);
                ran += one;
            }
        }
        if (!rc && ran)
            rc = qb_results_write(res, a->results, err);
        free(cells);
        qt_tuned_free(&t);
        cli_results_free(&r);
    }
    return rc;
}

/* Never worse than the default: each bucket's winner that is not its kernel's default
 * configuration is timed against that default, interleaved in this process; the outcome goes
 * into the results file, where tune and emit find it. */
enum { VERIFY_PAIRS = 12 };
static int verify_winners(const cli_sweep_args *a, qb_bench *b, qb_results *res, FILE *log, qc_msgs *err)
{
    cli_results r;
    qt_tuned t = {0};
    cli_tune_args ta = {0};
    int rc = cli_results_load(&r, a->results, err);
    if (!rc)
        rc = cli_tune(&r, &ta, &t, err);
    int todo = 0, kept = 0;
    for (int i = 0; !rc && i < t.n; i++) {
        const qt_winner *w = &t.v[i];
        const qk_kernel *k = qk_kernel_find(w->kernel);
        qk_config cw, cd;
        qk_kernel_defaults(k, &w->p, &cd);
        if (qk_config_parse(k, &w->p, w->config, &cw, NULL) || !memcmp(&cw, &cd, sizeof cw))
            continue;
        qb_task tw, td;
        if (!remeasurable(w, k, &cw, a->axes.warm, res, &tw) || !remeasurable(w, k, &cd, a->axes.warm, res, &td))
            continue; /* on a GPU, or the default was not measured here: nothing to compare with */
        if (!todo++)
            fprintf(log, "qbench: never worse than the default: each winner against its kernel's default "
                         "configuration, %d interleaved pairs\n", VERIFY_PAIRS);
        qb_pair pr;
        if ((rc = qb_measure_pair(b, &tw, &td, VERIFY_PAIRS, &pr, err)))
            break;
        qb_verification v = {.pairs = pr.pairs, .ratio = pr.ratio, .ratio_hi = pr.ratio_hi, .keep = pr.ratio_hi < 1};
        snprintf(v.winner, sizeof v.winner, "%s", tw.point.name);
        snprintf(v.baseline, sizeof v.baseline, "%s", td.point.name);
        qb_results_add_verification(res, &v);
        kept += v.keep;
        fprintf(log, "qbench:   %s: %.3f of the default's time (upper quartile %.3f): %s\n", tw.point.name, pr.ratio,
                pr.ratio_hi, v.keep ? "kept" : "the default stands");
    }
    if (!rc && todo) {
        fprintf(log, "qbench: %d of %d winners beat their default beyond the noise\n", kept, todo);
        rc = qb_results_write(res, a->results, err);
    }
    qt_tuned_free(&t);
    cli_results_free(&r);
    return rc;
}

/* The results to resume: readable, of this device's profile, and measured on this host. */
static int resume_results(const cli_sweep_args *a, qb_results *res, qc_msgs *err)
{
    int rc = qb_results_read(a->results, res, err);
    if (rc)
        return rc;
    char host[256] = "";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    const char *was = json_string_value(json_object_get(res->context, "host_name"));
    if (!a->predict && was && strcmp(was, host)) {
        qc_msgs_addf(err, "%s: these results were measured on host %s, this is %s (resume on the machine that "
                          "started them, or start a new sweep)", a->results, was, host);
        qb_results_free(res);
        return QC_EINPUT;
    }
    for (int i = 0; i < res->n; i++) /* one cache mode per file: the tuner compares like with like */
        if (res->v[i].warm != a->axes.warm) {
            qc_msgs_addf(err, "%s: its points were measured with %s weights; resume with --cache %s", a->results,
                         a->axes.warm ? "cold" : "warm", a->axes.warm ? "cold" : "warm");
            qb_results_free(res);
            return QC_EINPUT;
        }
    return QC_OK;
}

/* mkdir -p */
static int make_dirs(const char *dir, qc_msgs *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++)
        if (*p == '/' || !*p) {
            const char c = *p;
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                qc_msgs_addf(err, "%s: cannot create it: %s", path, strerror(errno));
                return QC_EINPUT;
            }
            if (!(*p = c))
                return QC_OK;
        }
}

/* The shard's part of the run set, and what the plan predicts for every shard. */
static void plan_shard(const cli_sweep_args *a, const qp_profile *prof, qb_task *tasks, int *n, qb_shard_plan *plan,
                       FILE *log)
{
    qb_measure_opts m = a->measure;
    m.profile = prof; /* as loaded, before any probe: every shard computes the same plan */
    qb_shard_plan_make(tasks, *n, a->shard.count, &m, plan);
    const int all = *n;
    qb_shard_select(plan, a->shard.index, tasks, n);
    fprintf(log, "qbench: shard %d of %d (%s): %d of %d points; plan %s\n", a->shard.index, a->shard.count,
            a->shard.from, *n, all, plan->hash);
    fprintf(log, "qbench: predicted seconds per shard (from %s):", plan->basis);
    for (int i = 0; i < plan->count; i++)
        fprintf(log, "%s%s%.1f", i % 8 ? "" : "\n  ", i % 8 ? ", " : "", plan->cost_s[i]);
    if (isfinite(plan->imbalance))
        fprintf(log, "\n  the costliest %.0f%% above the cheapest\n", 100 * plan->imbalance);
    else
        fprintf(log, "\n  some shards have nothing to run (more shards than units of work)\n");
}

/* A resumed shard must be the same part of the same plan. */
static int check_resumed_shard(const cli_sweep_args *a, const qb_results *res, const qb_shard_plan *plan,
                               qc_msgs *err)
{
    json_t *sh = json_object_get(json_object_get(res->context, "qbench"), "shard");
    if (!a->shard.count && !sh)
        return QC_OK;
    if (!a->shard.count || !sh) {
        qc_msgs_addf(err, "%s: %s (resume with the --shard it was started with)", a->results,
                     sh ? "these results are one shard of a sweep" : "these results are a whole sweep, not a shard");
        return QC_EINPUT;
    }
    const int idx = (int)json_integer_value(json_object_get(sh, "index")),
              cnt = (int)json_integer_value(json_object_get(sh, "count"));
    const char *h = json_string_value(json_object_get(sh, "plan"));
    if (idx != a->shard.index || cnt != a->shard.count || !h || strcmp(h, plan->hash)) {
        qc_msgs_addf(err, "%s: these results are shard %d of %d of plan %s; this is shard %d of %d of plan %s (resume "
                          "with the same axes, profile and --shard)", a->results, idx, cnt, h ? h : "?",
                     a->shard.index, a->shard.count, plan->hash);
        return QC_EINPUT;
    }
    return QC_OK;
}

int cli_pipeline(cli_sweep_args *a, qc_msgs *err)
{
    /* what is asked first: the device, the run set (and this shard's part of it), a results file
     * to resume, a folder no one else writes */
    qb_results res = {0};
    qp_target t = {0};
    qb_task *tasks = NULL;
    qb_shard_plan plan = {0};
    int n = 0, rc = cli_device_profile(a->device, a->predict, &t, err);
    if (!rc) {
        a->axes.cuda = t.local && t.cuda_index == 0;
        rc = qb_plan(&a->axes, a->predict ? t.profile : NULL, &tasks, &n, err);
    }
    if (!rc && a->shard.count)
        plan_shard(a, t.profile, tasks, &n, &plan, stderr);
    if (!rc && a->resume && !(rc = resume_results(a, &res, err)))
        rc = check_resumed_shard(a, &res, &plan, err);
    if (!rc)
        rc = make_dirs(a->dir, err);
    qc_dirlock lock = {-1};
    if (!rc)
        rc = qc_dirlock_take(&lock, a->dir, a->command ? a->command : "qbench sweep", err);
    /* probe: the device's ceilings, when its profile has none */
    if (!rc && !a->predict)
        rc = probe_if_missing(&t, err);
    const qp_profile *prof = t.profile;
    if (!rc && a->resume) {
        const char *was = json_string_value(json_object_get(json_object_get(res.context, "qbench"), "profile"));
        const char *model = json_string_value(
            json_object_get(json_object_get(json_object_get(res.context, "qbench"), "model"), "name"));
        const char *now = a->axes.model ? qm_model_name(a->axes.model) : NULL;
        if (!was || strcmp(was, prof->name)) {
            qc_msgs_addf(err, "%s: these results were made with profile %s, not %s (resume on the same device)",
                         a->results, was ? was : "?", prof->name);
            rc = QC_EINPUT;
        } else if (!model != !now || (model && strcmp(model, now))) {
            qc_msgs_addf(err, "%s: these results were made %s%s, not %s%s (resume with the same --model)", a->results,
                         model ? "with --model " : "without --model", model ? model : "", now ? "--model " : "without it",
                         now ? now : "");
            rc = QC_EINPUT;
        }
    } else if (!rc) {
        json_t *ctx = make_context(prof, a->device, t.device_name[0] ? t.device_name : prof->name, a->predict);
        if (a->shard.count)
            json_object_set_new(json_object_get(ctx, "qbench"), "shard",
                                json_pack("{s:i, s:i, s:s, s:s, s:i, s:f, s:s}", "index", a->shard.index, "count",
                                          a->shard.count, "plan", plan.hash, "from", a->shard.from, "points", n,
                                          "predicted_s", plan.cost_s[a->shard.index], "basis", plan.basis));
        if (a->axes.model)
            json_object_set_new(json_object_get(ctx, "qbench"), "model", model_context(a->axes.model, a->acts));
        qb_results_init(&res, ctx);
    }

    /* sweep: the run set, into results.json after every point */
    int done = 0, sig = 0;
    double took = 0;
    if (!rc) {
        struct sigaction old[3];
        signals_catch(old);
        a->measure.profile = prof;
        a->measure.predict = a->predict;
        qb_bench *b = qb_bench_create(&a->measure);
        qb_sweep_opts so = {.out = a->results, .log = stderr, .tty = isatty(2), .stop = &stop_flag};
        if (!a->predict)
            fprintf(stderr, "qbench: sweep of %d points on %s (%s) into %s\n", n, t.device_name, prof->name,
                    a->results);
        took = qc_now();
        rc = qb_sweep_run(b, tasks, n, &res, &so, &done, err);
        took = qc_now() - took;
        if (!rc && !stop_flag && !a->predict && a->axes.configs != QB_CONFIGS_DEFAULT && res.n)
            rc = verify_winners(a, b, &res, stderr, err);
        if (!rc && !stop_flag && !a->predict && !a->axes.cuda && !a->shard.count && res.n)
            rc = race_cells(a, b, &res, stderr, err);
        qb_bench_destroy(b);
        signals_restore(old);
        if (!rc && res.n == 0)
            rc = qb_results_write(&res, a->results, err); /* an empty sweep still leaves a valid file */
        sig = rc ? 0 : stop_flag;
    }
    int total = res.n;
    qb_results_free(&res);
    free(tasks);
    if (!rc) {
        cli_results r;
        if (cli_results_load(&r, a->results, NULL) == QC_OK)
            cli_summary(&r, 0, stdout);
        cli_results_free(&r);
        printf("\n%d point%s run now, %d in %s\n", done, done == 1 ? "" : "s", total, a->results);
    }
    if (sig)
        fprintf(stderr, "qbench: interrupted: SIG%s stopped the sweep after the current point; the finished points "
                        "are in %s; run again with --resume %s\n",
                sig == SIGTERM ? "TERM" : sig == SIGHUP ? "HUP" : "INT", a->results, a->results);
    if (!rc && !sig && a->shard.count) { /* one part: the whole is fitted after the merge */
        const char *slash = strrchr(a->dir, '/');
        const int base = slash ? (int)(slash - a->dir + 1) : 0; /* the sweep's folder, with its slash */
        printf("shard %d of %d: took %.1f s, %.1f s predicted; when every shard is done:\n"
               "  qbench merge %.*sshard-*-of-%d/results.json -o %.*sresults.json\n",
               a->shard.index, a->shard.count, took, plan.cost_s[a->shard.index], base, a->dir, a->shard.count, base,
               a->dir);
    } else if (!rc && !sig) { /* fit, tune, emit, plot */
        printf("\nfit, tuned and drawn into %s:\n", a->dir);
        fflush(stdout);
        rc = after_sweep(a->dir, a->results, prof, stdout, err);
    }
    qb_shard_plan_free(&plan);
    qp_target_free(&t);
    qc_dirlock_release(&lock);
    return rc ? rc : sig ? 128 + sig : 0;
}

/* ------------------------------------------------------------------ one worker per GPU */

int cli_pipeline_gpus(cli_sweep_args *a, int argc, char **argv, qc_msgs *err)
{
    qh_cuda cuda;
    qh_cuda_discover(&cuda);
    if (!cuda.n) {
        qc_msgs_addf(err, "--device cuda:all: %s", cuda.reason);
        return QC_EINPUT;
    }
    for (int i = 1; i < cuda.n; i++)
        if (strcmp(cuda.dev[i].name, cuda.dev[0].name) || cuda.dev[i].cc_major != cuda.dev[0].cc_major ||
            cuda.dev[i].cc_minor != cuda.dev[0].cc_minor) {
            qc_msgs_addf(err, "--device cuda:all: the visible GPUs are not of one type (%d: %s, %d: %s): a sweep and "
                              "its dispatch table are per device type; run one sweep per type, CUDA_VISIBLE_DEVICES "
                              "naming its GPUs, and emit one fleet table from their results",
                         0, cuda.dev[0].name, i, cuda.dev[i].name);
            return QC_EINPUT;
        }
    /* the i-th visible GPU as CUDA_VISIBLE_DEVICES names it (an index or a UUID) */
    const int n = cuda.n;
    char vis[QH_MAX_CUDA_DEVICES][64], buf[1024];
    const char *env = getenv("CUDA_VISIBLE_DEVICES");
    snprintf(buf, sizeof buf, "%s", env ? env : "");
    char *save = NULL, *tok = env ? strtok_r(buf, ",", &save) : NULL;
    for (int i = 0; i < n; i++, tok = tok ? strtok_r(NULL, ",", &save) : NULL)
        snprintf(vis[i], sizeof vis[i], "%s", tok ? tok : "");
    for (int i = 0; i < n; i++)
        if (!vis[i][0])
            snprintf(vis[i], sizeof vis[i], "%d", i);

    qp_target t;
    int rc = cli_device_profile("cuda:0", a->predict, &t, err);
    if (!rc)
        rc = make_dirs(a->dir, err);
    qc_dirlock lock = {-1};
    if (!rc)
        rc = qc_dirlock_take(&lock, a->dir, a->command ? a->command : "qbench sweep", err);
    if (rc) {
        qp_target_free(&t);
        return rc;
    }
    fprintf(stderr, "qbench: %d x %s: one worker per GPU, each one shard; their output in %s/shard-I-of-%d.log\n", n,
            cuda.dev[0].name, a->dir, n);
    struct sigaction old[3];
    signals_catch(old);
    pid_t pid[QH_MAX_CUDA_DEVICES];
    int status[QH_MAX_CUDA_DEVICES], left = 0;
    char **args = qc_xcalloc((size_t)argc + 2, sizeof *args);
    args[0] = "qbench";
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i];
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < n; i++) {
        char log[4200], shard[32];
        snprintf(log, sizeof log, "%s/shard-%d-of-%d.log", a->dir, i, n);
        snprintf(shard, sizeof shard, "%d/%d", i, n);
        pid[i] = fork();
        if (pid[i] == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                _exit(127);
            setenv("QBENCH_GPU_WORKER", shard, 1);
            setenv("CUDA_VISIBLE_DEVICES", vis[i], 1);
            signals_restore(old);
            execv("/proc/self/exe", args);
            fprintf(stderr, "qbench: cannot start a worker: %s\n", strerror(errno));
            _exit(127);
        }
        if (pid[i] < 0) {
            qc_msgs_addf(err, "cannot start worker %d: %s", i, strerror(errno));
            rc = QC_ERUNTIME;
            break;
        }
        left++;
        fprintf(stderr, "qbench:   worker %d: CUDA_VISIBLE_DEVICES=%s, pid %d\n", i, vis[i], (int)pid[i]);
    }
    free(args);
    int forwarded = 0;
    while (left > 0) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w < 0) {
            if (errno != EINTR)
                break;
            if (stop_flag && !forwarded) { /* a signal to this process only: the workers get it too */
                for (int i = 0; i < n; i++)
                    if (pid[i] > 0)
                        kill(pid[i], stop_flag);
                forwarded = 1;
            }
            continue;
        }
        for (int i = 0; i < n; i++)
            if (pid[i] == w) {
                status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                pid[i] = 0;
                left--;
                fprintf(stderr, "qbench:   worker %d %s (exit %d)\n", i, status[i] ? "failed" : "finished", status[i]);
                if (status[i] && !rc) {
                    qc_msgs_addf(err, "worker %d (CUDA_VISIBLE_DEVICES=%s) exited with %d: see %s/shard-%d-of-%d.log; "
                                      "its finished points are kept (run again with --resume %s)",
                                 i, vis[i], status[i], a->dir, i, n, a->results);
                    rc = status[i] > 128 ? status[i] : QC_ERUNTIME;
                }
            }
    }
    signals_restore(old);
    if (!rc && stop_flag)
        rc = 128 + stop_flag;
    /* the shards as one file, then fit, tune, emit, plot */
    if (!rc) {
        char(*paths)[4200] = qc_xcalloc((size_t)n, sizeof *paths);
        const char **pp = qc_xcalloc((size_t)n, sizeof *pp);
        for (int i = 0; i < n; i++) {
            snprintf(paths[i], sizeof paths[i], "%s/shard-%d-of-%d/results.json", a->dir, i, n);
            pp[i] = paths[i];
        }
        qb_merge_stats ms;
        rc = cli_merge(pp, n, 0, a->results, &ms, err);
        free(paths);
        free(pp);
        if (!rc) {
            cli_results r;
            if (cli_results_load(&r, a->results, NULL) == QC_OK)
                cli_summary(&r, 0, stdout);
            cli_results_free(&r);
            printf("\n%d shards merged: %d points in %s\n\nfit, tuned and drawn into %s:\n", n, ms.points, a->results,
                   a->dir);
            fflush(stdout);
            rc = after_sweep(a->dir, a->results, t.profile, stdout, err);
        }
    }
    qp_target_free(&t);
    qc_dirlock_release(&lock);
    return rc;
}
