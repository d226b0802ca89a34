/* The sweep: axes → run set → every point through the one measure path, results written after
 * each point, with a progress line. */
#include <stdlib.h>
#include <string.h>

#include "bench/sweep.h"
#include "tuner/roofline.h"

/* ------------------------------------------------------------------ the run set */

/* The kernels a scheme is swept with: the best of qbench's own this CPU runs, or (pruned, all)
 * every SIMD kernel of its own it runs (the generic C kernels only where no SIMD kernel
 * exists); and always beside them the providers' kernels (oneDNN) of the scheme, so that every
 * sweep measures ours against the best library in the same run. */
static int kernels_for(qk_scheme s, int configs, int cuda, const qk_kernel **out, int max)
{
    if (cuda) { /* one CUDA kernel per scheme: its configurations are the space */
        out[0] = qk_kernel_best_cuda(s);
        return out[0] ? 1 : 0;
    }
    const qk_kernel *best = qk_kernel_best(s);
    const int own_all = configs != QB_CONFIGS_DEFAULT && best && strcmp(best->isa, "generic");
    int n = 0;
    if (best && !own_all)
        out[n++] = best;
    for (int i = 0; i < qk_kernel_count() && n < max; i++) {
        const qk_kernel *k = qk_kernel_get(i);
        if (k->scheme != s || qk_kernel_is_cuda(k) || !qk_kernel_supported(k))
            continue;
        if (qk_kernel_is_provider(k) || (own_all && strcmp(k->isa, "generic")))
            out[n++] = k;
    }
    return n;
}

void qb_task_init(qb_task *t, const qk_problem *p, const qk_kernel *k, const qk_config *cfg, double smooth, int warm)
{
    memset(t, 0, sizeof *t);
    t->p = *p;
    t->kernel = k;
    t->cfg = *cfg;
    t->smooth = smooth;
    t->layer = -1;
    t->point.p = *p;
    t->point.smooth = smooth;
    snprintf(t->point.kernel, sizeof t->point.kernel, "%s", k->name);
    qk_config_format(k, cfg, t->point.config, sizeof t->point.config);
    t->point.kernel_error = t->point.quant_error = t->point.weight_error = -1;
    t->point.warm = warm;
    qb_point_name(&t->point);
}

typedef struct tasklist {
    qb_task *v;
    int n, cap;
} tasklist;

static void push(tasklist *l, const qk_problem *p, const qk_kernel *k, const qk_config *cfg, int warm)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = qc_xrealloc(l->v, sizeof *l->v * (size_t)l->cap);
    }
    qb_task_init(&l->v[l->n++], p, k, cfg, -1, warm);
}

/* Configurations of kernel k for p: defaults; pruned: each parameter varied alone around the
 * defaults; all: the whole cartesian product. Invalid ones are left out. */
static void add_configs(tasklist *l, const qk_problem *p, const qk_kernel *k, int mode, int warm)
{
    qk_config base;
    qk_kernel_defaults(k, p, &base);
    push(l, p, k, &base, warm);
    if (mode == QB_CONFIGS_DEFAULT)
        return;
    int vals[QK_MAX_PARAMS][16], nv[QK_MAX_PARAMS];
    for (int i = 0; i < k->n_params; i++)
        nv[i] = qk_param_values(k, i, vals[i], 16);
    char why[256];
    if (mode == QB_CONFIGS_PRUNED) {
        for (int i = 0; i < k->n_params; i++)
            for (int j = 0; j < nv[i]; j++) {
                qk_config c = base;
                if (vals[i][j] == base.v[i])
                    continue;
                c.v[i] = vals[i][j];
                if (!qk_kernel_check(k, p, &c, why, sizeof why))
                    push(l, p, k, &c, warm);
            }
        return;
    }
    int idx[QK_MAX_PARAMS] = {0};
    for (;;) {
        qk_config c = base;
        for (int i = 0; i < k->n_params; i++)
            c.v[i] = vals[i][idx[i]];
        if (memcmp(&c, &base, sizeof c) && !qk_kernel_check(k, p, &c, why, sizeof why))
            push(l, p, k, &c, warm);
        int i = 0;
        while (i < k->n_params && ++idx[i] == nv[i])
            idx[i++] = 0;
        if (i == k->n_params)
            break;
    }
}

int qb_plan(const qb_axes *a, const qp_profile *predict_on, qb_task **tasks, int *n, qc_msgs *err)
{
    int ms[QB_MAX_AXIS * QB_MAX_AXIS], nm = 0;
    for (int i = 0; i < a->n_batch; i++)
        for (int j = 0; j < a->n_seq; j++) {
            long m = (long)a->batch[i] * a->seq[j];
            int seen = 0;
            for (int t = 0; t < nm; t++)
                seen |= ms[t] == m;
            if (seen)
                continue;
            if (m > (1 << 24)) {
                qc_msgs_addf(err, "--batch %d × --seq %d = %ld tokens: qbench sweeps M up to %d", a->batch[i],
                             a->seq[j], m, 1 << 24);
                return QC_EINPUT;
            }
            ms[nm++] = (int)m;
        }
    for (int i = 1; i < nm; i++) /* ascending M: the output reads like the picture */
        for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
            int t = ms[j];
            ms[j] = ms[j - 1];
            ms[j - 1] = t;
        }
    for (int h = 0; h < a->n_holdout; h++)
        for (int i = 0; i < a->n_shape; i++)
            if (a->holdout[h].n == a->shape[i].n && a->holdout[h].k == a->shape[i].k) {
                qc_msgs_addf(err, "--holdout %dx%d is also in --shapes: a held-out shape is one the fit does not see",
                             a->holdout[h].n, a->holdout[h].k);
                return QC_EINPUT;
            }
    tasklist l = {0};
    /* scheme, group, shape, kernel outermost, so that one set of weights (packed for one kernel)
     * serves every M and configuration; the held-out shapes after the others */
    const int n_all = a->n_shape + a->n_holdout;
    for (int si = 0; si < a->n_scheme; si++) {
        qk_scheme s = a->scheme[si];
        const qk_kernel *ks[16];
        int nk = predict_on ? (ks[0] = qt_kernel_for(predict_on, s)) != NULL : kernels_for(s, a->configs, a->cuda, ks, 16);
        int ng = qk_scheme_grouped(s) ? a->n_group : 1;
        for (int gi = 0; gi < ng; gi++)
            for (int hi = 0; hi < n_all; hi++)
                for (int ki = 0; ki < nk; ki++)
                    for (int mi = 0; mi < nm; mi++) {
                        const int held = hi >= a->n_shape;
                        const qb_shape *sh = held ? &a->holdout[hi - a->n_shape] : &a->shape[hi];
                        if (held && a->holdout_max_m > 0 && ms[mi] > a->holdout_max_m)
                            continue;
                        qk_problem p = {.scheme = s, .m = ms[mi], .n = sh->n, .k = sh->k,
                                        .group = qk_scheme_grouped(s) ? a->group[gi] : 0,
                                        .act_bf16 = s == QK_BF16 || (s != QK_FP16 && a->act_bf16)};
                        qc_msgs why = {0};
                        if (qk_problem_check(&p, &why)) { /* e.g. K not a multiple of this group: not applicable */
                            qc_msgs_free(&why);
                            continue;
                        }
                        const int before = l.n;
                        add_configs(&l, &p, ks[ki], predict_on ? QB_CONFIGS_DEFAULT : a->configs, a->warm);
                        for (int t = before; t < l.n; t++) {
                            l.v[t].point.holdout = held;
                            if (a->model && sh->layer >= 0) {
                                l.v[t].layer = sh->layer;
                                snprintf(l.v[t].point.layer, sizeof l.v[t].point.layer, "%s", sh->name);
                                qb_point_name(&l.v[t].point);
                            }
                        }
                    }
    }
    if (!l.n) {
        qc_msgs_addf(err, "the axes give no point to run (each shape's K must suit the schemes and groups chosen)");
        free(l.v);
        return QC_EINPUT;
    }
    *tasks = l.v;
    *n = l.n;
    return QC_OK;
}

/* ------------------------------------------------------------------ running */

static void fmt_time(double s, char *buf, size_t len)
{
    int m = (int)(s / 60);
    snprintf(buf, len, "%02d:%02d", m, (int)(s - 60 * m));
}

int qb_sweep_run(qb_bench *b, const qb_task *tasks, int n, qb_results *res, const qb_sweep_opts *o, int *done,
                 qc_msgs *err)
{
    int todo = 0;
    for (int i = 0; i < n; i++)
        todo += qb_results_find(res, tasks[i].point.name) == NULL;
    double start = qc_now();
    int rc = QC_OK, count = 0;
    *done = 0;
    for (int i = 0; i < n && !(o->stop && *o->stop); i++) {
        const qb_task *t = &tasks[i];
        if (qb_results_find(res, t->point.name))
            continue; /* finished in an earlier run */
        double el = qc_now() - start;
        char e1[16], e2[16];
        fmt_time(el, e1, sizeof e1);
        fmt_time(count ? el / count * (todo - count) : 0, e2, sizeof e2);
        if (o->log && o->tty) {
            fprintf(o->log, "\r\033[K[%d/%d] %s elapsed, %s%s left | %s", count + 1, todo, e1, count ? "~" : "?", e2,
                    t->point.name);
            fflush(o->log);
        }
        qb_point pt;
        qc_msgs why = {0}; /* a point that cannot be run is recorded as failed, with this reason */
        qb_measure(b, t, &pt, &why);
        qc_msgs_free(&why);
        count++;
        if (o->log && !o->tty) {
            if (pt.status == QB_FAILED)
                fprintf(o->log, "qbench: [%d/%d] %s: FAILED: %s\n", count, todo, pt.name, pt.error);
            else
                fprintf(o->log, "qbench: [%d/%d] %s: %.4g ms, %.2f GB/s, %.2f GFLOP/s%s%.0f%%%s\n", count, todo,
                        pt.name, pt.median_s * 1e3, pt.gbs, pt.gflops, pt.attainable_gflops > 0 ? ", ceiling " : "",
                        pt.attainable_gflops > 0 ? pt.pct_of_ceiling : 0, pt.status == QB_PREDICTED ? " (predicted)" : "");
        } else if (o->log && pt.status == QB_FAILED) {
            fprintf(o->log, "\r\033[Kqbench: %s: FAILED: %s\n", pt.name, pt.error);
        }
        qb_results_add(res, &pt);
        if ((rc = qb_results_write(res, o->out, err)))
            break;
    }
    if (o->log && o->tty)
        fprintf(o->log, "\r\033[K");
    *done = count;
    return rc;
}
