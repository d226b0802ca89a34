/* The sweep engine: axes → run set → for each point: check, time (cbench), count, place. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/cbench.h"
#include "bench/gpu.h"
#include "bench/sweep.h"
#include "hardware/counters.h"
#include "hardware/hardware.h"

/* ------------------------------------------------------------------ axes */

int qb_parse_ints(const char *opt, const char *text, int lo, int hi, int *out, int *n, qc_msgs *err)
{
    *n = 0;
    char *copy = strdup(text), *save = NULL;
    int rc = QC_OK;
    for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        long a, b = 0, step = 0;
        char mul = 0, tail;
        int fields;
        if ((fields = sscanf(item, "%ld:%ld:*%ld%c", &a, &b, &step, &tail)) == 3)
            mul = 1;
        else if ((fields = sscanf(item, "%ld:%ld:%ld%c", &a, &b, &step, &tail)) == 3)
            mul = 0;
        else if ((fields = sscanf(item, "%ld:%ld%c", &a, &b, &tail)) == 2) {
            mul = 1;
            step = 2;
        } else if ((fields = sscanf(item, "%ld%c", &a, &tail)) == 1) {
            b = a;
            step = 1;
        } else {
            qc_msgs_addf(err, "%s '%s': '%s' is not a number, a list (1,2,4) or a range (1:64, 1:64:*4, 128:1024:128)",
                         opt, text, item);
            rc = QC_EINPUT;
            break;
        }
        if (a < lo || b > hi || a > b || (mul ? step < 2 : step < 1)) {
            qc_msgs_addf(err, "%s '%s': '%s' must stay within %d..%d, go upwards, and step by at least %s", opt, text,
                         item, lo, hi, mul ? "*2" : "1");
            rc = QC_EINPUT;
            break;
        }
        for (long v = a; v <= b; v = mul ? v * step : v + step) {
            int seen = 0;
            for (int i = 0; i < *n; i++)
                seen |= out[i] == v;
            if (seen)
                continue;
            if (*n == QB_MAX_AXIS) {
                qc_msgs_addf(err, "%s '%s': more than %d values", opt, text, QB_MAX_AXIS);
                rc = QC_EINPUT;
                break;
            }
            out[(*n)++] = (int)v;
            if (mul && v > hi / step)
                break;
        }
    }
    free(copy);
    if (!rc && *n == 0) {
        qc_msgs_addf(err, "%s: no values given", opt);
        rc = QC_EINPUT;
    }
    return rc;
}

int qb_parse_schemes(const char *text, qb_axes *a, qc_msgs *err)
{
    a->n_scheme = 0;
    char *copy = strdup(text), *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        qk_scheme s;
        if (qk_scheme_parse(item, &s)) {
            qc_msgs_addf(err, "--schemes: unknown scheme '%s' (use fp16, w8a16, w4a16, w8a8, w4a8, fp8)", item);
            free(copy);
            return QC_EINPUT;
        }
        int seen = 0;
        for (int i = 0; i < a->n_scheme; i++)
            seen |= a->scheme[i] == s;
        if (!seen)
            a->scheme[a->n_scheme++] = s;
    }
    free(copy);
    if (!a->n_scheme) {
        qc_msgs_addf(err, "--schemes: no scheme given");
        return QC_EINPUT;
    }
    return QC_OK;
}

/* Linear layers of common LLMs (W is N×K: N = out_features, K = in_features). */
typedef struct model {
    const char *name;
    int hidden, inter, q, kv; /* q and kv: heads × head size */
} model;

static const model models[] = {
    {"llama-2-7b", 4096, 11008, 4096, 4096},  {"llama-3-8b", 4096, 14336, 4096, 1024},
    {"mistral-7b", 4096, 14336, 4096, 1024},  {"qwen2.5-7b", 3584, 18944, 3584, 512},
    {"llama-2-70b", 8192, 28672, 8192, 1024}, {"llama-3-70b", 8192, 28672, 8192, 1024},
};

const char *qb_shape_sets(void)
{
    return "llama-2-7b, llama-3-8b, mistral-7b, qwen2.5-7b, llama-2-70b, llama-3-70b (each also -fused: qkv and "
           "gate+up as one GEMM), or NxK";
}

static int add_shape(qb_axes *a, const char *name, int n, int k, qc_msgs *err)
{
    for (int i = 0; i < a->n_shape; i++)
        if (a->shape[i].n == n && a->shape[i].k == k)
            return QC_OK; /* distinct N×K only */
    if (a->n_shape == QB_MAX_SHAPES) {
        qc_msgs_addf(err, "--shapes: more than %d distinct shapes", QB_MAX_SHAPES);
        return QC_EINPUT;
    }
    qb_shape *s = &a->shape[a->n_shape++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->n = n;
    s->k = k;
    return QC_OK;
}

int qb_parse_shapes(const char *text, qb_axes *a, qc_msgs *err)
{
    a->n_shape = 0;
    char *copy = strdup(text), *save = NULL;
    int rc = QC_OK;
    for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        int n, k;
        char tail;
        if (sscanf(item, "%dx%d%c", &n, &k, &tail) == 2) {
            if (n <= 0 || k <= 0) {
                qc_msgs_addf(err, "--shapes: '%s': N and K must be positive", item);
                rc = QC_EINPUT;
            } else {
                rc = add_shape(a, item, n, k, err);
            }
            continue;
        }
        size_t len = strlen(item);
        int fused = len > 6 && !strcmp(item + len - 6, "-fused");
        if (fused)
            item[len - 6] = '\0';
        const model *m = NULL;
        for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
            if (!strcmp(models[i].name, item))
                m = &models[i];
        if (!m) {
            qc_msgs_addf(err, "--shapes: unknown shape '%s%s' (use %s)", item, fused ? "-fused" : "", qb_shape_sets());
            rc = QC_EINPUT;
            break;
        }
        char nm[32];
#define SHAPE(part, nn, kk)                                                                                        \
    do {                                                                                                           \
        snprintf(nm, sizeof nm, "%s.%s", m->name, part);                                                           \
        if (!rc)                                                                                                   \
            rc = add_shape(a, nm, nn, kk, err);                                                                    \
    } while (0)
        if (fused) {
            SHAPE("qkv", m->q + 2 * m->kv, m->hidden);
            SHAPE("o", m->hidden, m->q);
            SHAPE("gate_up", 2 * m->inter, m->hidden);
        } else {
            SHAPE("q", m->q, m->hidden);
            SHAPE("kv", m->kv, m->hidden);
            SHAPE("o", m->hidden, m->q);
            SHAPE("gate_up", m->inter, m->hidden);
        }
        SHAPE("down", m->hidden, m->inter);
#undef SHAPE
    }
    free(copy);
    return rc;
}

int qb_parse_configs(const char *text, qb_axes *a, qc_msgs *err)
{
    if (!strcmp(text, "default"))
        a->configs = QB_CONFIGS_DEFAULT;
    else if (!strcmp(text, "pruned"))
        a->configs = QB_CONFIGS_PRUNED;
    else if (!strcmp(text, "all"))
        a->configs = QB_CONFIGS_ALL;
    else {
        qc_msgs_addf(err, "--configs '%s': use default, pruned or all", text);
        return QC_EINPUT;
    }
    return QC_OK;
}

void qb_axes_quick(qb_axes *a)
{
    memset(a, 0, sizeof *a);
    static const int batch[] = {1, 4, 16, 64, 256};
    memcpy(a->batch, batch, sizeof batch);
    a->n_batch = 5;
    a->seq[0] = 1;
    a->n_seq = 1;
    a->group[0] = 128;
    a->n_group = 1;
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        a->scheme[a->n_scheme++] = (qk_scheme)s;
    add_shape(a, "llama-3-8b.q", 4096, 4096, NULL);
    add_shape(a, "llama-3-8b.down", 4096, 14336, NULL);
    a->configs = QB_CONFIGS_DEFAULT;
}

void qb_axes_default(qb_axes *a)
{
    qb_axes_quick(a);
    static const int batch[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
    memcpy(a->batch, batch, sizeof batch);
    a->n_batch = 10;
    static const int group[] = {32, 128, -1};
    memcpy(a->group, group, sizeof group);
    a->n_group = 3;
    a->n_shape = 0;
    qb_parse_shapes("llama-3-8b", a, NULL);
}

/* ------------------------------------------------------------------ the run set */

/* The kernels a scheme is swept with: the best one this CPU runs, or (pruned, all) every
 * SIMD kernel it runs; the generic C kernels only where no SIMD kernel exists. */
static int kernels_for(qk_scheme s, int configs, int cuda, const qk_kernel **out)
{
    if (cuda) { /* one CUDA kernel per scheme: its configurations are the space */
        out[0] = qk_kernel_best_cuda(s);
        return out[0] ? 1 : 0;
    }
    const qk_kernel *best = qk_kernel_best(s);
    if (configs == QB_CONFIGS_DEFAULT || !best || !strcmp(best->isa, "generic")) {
        out[0] = best;
        return best ? 1 : 0;
    }
    int n = 0;
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = qk_kernel_get(i);
        if (k->scheme == s && qk_kernel_supported(k) && strcmp(k->isa, "generic"))
            out[n++] = k;
    }
    return n;
}

typedef struct tasklist {
    qb_task *v;
    int n, cap;
} tasklist;

static void push(tasklist *l, const qk_problem *p, const qk_kernel *k, const qk_config *cfg)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = qc_xrealloc(l->v, sizeof *l->v * (size_t)l->cap);
    }
    qb_task *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    t->p = *p;
    t->kernel = k;
    if (cfg)
        t->cfg = *cfg;
    t->point.p = *p;
    snprintf(t->point.kernel, sizeof t->point.kernel, "%s", k ? k->name : "roofline");
    if (k)
        qk_config_format(k, cfg, t->point.config, sizeof t->point.config);
    else
        snprintf(t->point.config, sizeof t->point.config, "-");
    t->point.kernel_error = t->point.quant_error = -1;
    qb_point_name(&t->point);
}

/* Configurations of kernel k for p: defaults; pruned: each parameter varied alone around the
 * defaults; all: the whole cartesian product. Invalid ones are left out. */
static void add_configs(tasklist *l, const qk_problem *p, const qk_kernel *k, int mode)
{
    qk_config base;
    k->defaults(p, &base);
    push(l, p, k, &base);
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
                if (!k->check(p, &c, why, sizeof why))
                    push(l, p, k, &c);
            }
        return;
    }
    int idx[QK_MAX_PARAMS] = {0};
    for (;;) {
        qk_config c = base;
        for (int i = 0; i < k->n_params; i++)
            c.v[i] = vals[i][idx[i]];
        if (memcmp(&c, &base, sizeof c) && !k->check(p, &c, why, sizeof why))
            push(l, p, k, &c);
        int i = 0;
        while (i < k->n_params && ++idx[i] == nv[i])
            idx[i++] = 0;
        if (i == k->n_params)
            break;
    }
}

int qb_plan(const qb_axes *a, int predict, qb_task **tasks, int *n, qc_msgs *err)
{
    int ms[QB_MAX_AXIS * QB_MAX_AXIS], nm = 0;
    for (int i = 0; i < a->n_batch; i++)
        for (int j = 0; j < a->n_seq; j++) {
            long m = (long)a->batch[i] * a->seq[j];
            int seen = 0;
            for (int t = 0; t < nm; t++)
                seen |= ms[t] == m;
            if (!seen && m <= (1 << 24))
                ms[nm++] = (int)m;
        }
    for (int i = 1; i < nm; i++) /* ascending M: the output reads like the picture */
        for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
            int t = ms[j];
            ms[j] = ms[j - 1];
            ms[j - 1] = t;
        }
    tasklist l = {0};
    /* scheme, group, shape outermost so that one set of weights serves every M and config */
    for (int si = 0; si < a->n_scheme; si++) {
        qk_scheme s = a->scheme[si];
        int ng = qk_scheme_grouped(s) ? a->n_group : 1;
        for (int gi = 0; gi < ng; gi++)
            for (int hi = 0; hi < a->n_shape; hi++)
                for (int mi = 0; mi < nm; mi++) {
                    qk_problem p = {.scheme = s, .m = ms[mi], .n = a->shape[hi].n, .k = a->shape[hi].k,
                                    .group = qk_scheme_grouped(s) ? a->group[gi] : 0};
                    qc_msgs why = {0};
                    if (qk_problem_check(&p, &why)) { /* e.g. K not a multiple of this group: not applicable */
                        qc_msgs_free(&why);
                        continue;
                    }
                    if (predict) {
                        push(&l, &p, NULL, NULL);
                        continue;
                    }
                    const qk_kernel *ks[16];
                    int nk = kernels_for(s, a->configs, a->cuda, ks);
                    for (int k = 0; k < nk; k++)
                        add_configs(&l, &p, ks[k], a->configs);
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

void qb_ceilings(const qp_profile *prof, const qb_task *t, int threads, double *gbs, double *gops)
{
    const char *source, *isa = t->kernel ? t->kernel->isa : "";
    *gbs = *gops = 0;
    /* the dequantize-once path computes in fp32 FMA whatever the kernel does at small M */
    int pd = t->kernel ? qk_param_index(t->kernel, "predequant") : -1;
    if (pd >= 0 && t->cfg.v[pd])
        isa = "avx2";
    if (prof)
        qp_profile_ceilings(prof, qk_scheme_name(t->p.scheme), isa, threads, gbs, gops, &source);
}

/* Weights of one (scheme, group, shape): generated once, packed once, copied for rotation. */
typedef struct wset {
    qk_problem key;
    float *w;            /* original N×K */
    qk_weights *copies;
    int n_copies;
    int cols[256], n_cols; /* sampled output channels for the check */
    float *wd_cols;      /* dequantized weights of the sampled channels [n_cols][K] */
    float *w_cols;       /* original weights of the sampled channels */
} wset;

static void wset_free(wset *s)
{
    for (int i = 0; i < s->n_copies; i++)
        qk_weights_free(&s->copies[i]);
    free(s->copies);
    free(s->w);
    free(s->wd_cols);
    free(s->w_cols);
    memset(s, 0, sizeof *s);
}

static int same_weights(const qk_problem *a, const qk_problem *b)
{
    return a->scheme == b->scheme && a->out_f32 == b->out_f32 && a->n == b->n && a->k == b->k && a->group == b->group && a->asym == b->asym &&
           a->fp8_channel == b->fp8_channel;
}

static double llc_bytes(void)
{
    static double llc;
    if (!llc) {
        qh_host h;
        if (qh_host_discover(&h, NULL) == QC_OK)
            llc = qh_host_llc_bytes(&h);
        if (!llc)
            llc = 32.0 * 1024 * 1024;
    }
    return llc;
}

static int wset_prepare(wset *s, const qk_problem *p, int cuda, qc_msgs *err)
{
    wset_free(s);
    s->key = *p;
    size_t nk = (size_t)p->n * p->k;
    s->w = malloc(nk * 4);
    if (!s->w) {
        qc_msgs_addf(err, "out of memory for %d x %d weights", p->n, p->k);
        return QC_ERUNTIME;
    }
    qk_fill_weights(s->w, nk, (uint64_t)p->n * 7919 + (uint64_t)p->k);
    qk_weights first;
    int rc = qk_weights_pack_layout(p, s->w, cuda ? QK_LAYOUT_CUDA : QK_LAYOUT_CPU, &first, err);
    if (rc)
        return rc;
    /* cold: copies covering 8× the last-level cache, within a quarter of free memory */
    double avail = (double)sysconf(_SC_AVPHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    int want = cuda ? 1 : (int)ceil(8 * llc_bytes() / (double)first.bytes); /* GPU: the L2 is flushed instead */
    int fit = (int)(0.25 * avail / (double)first.bytes);
    s->n_copies = want < 1 ? 1 : want > 512 ? 512 : want;
    if (s->n_copies > fit)
        s->n_copies = fit > 1 ? fit : 1;
    s->copies = calloc((size_t)s->n_copies, sizeof *s->copies);
    s->copies[0] = first;
    for (int c = 1; c < s->n_copies; c++)
        if ((rc = qk_weights_copy(&first, &s->copies[c], err)))
            return rc;
    /* the sampled channels: spread over N, always including the last (the padded panel) */
    s->n_cols = p->n < 256 ? p->n : 256;
    for (int i = 0; i < s->n_cols; i++)
        s->cols[i] = s->n_cols == p->n ? i : (int)((long)i * (p->n - 1) / (s->n_cols - 1));
    float *wd = malloc(nk * 4);
    s->wd_cols = malloc((size_t)s->n_cols * p->k * 4);
    s->w_cols = malloc((size_t)s->n_cols * p->k * 4);
    if (!wd || !s->wd_cols || !s->w_cols) {
        free(wd);
        qc_msgs_addf(err, "out of memory for the reference");
        return QC_ERUNTIME;
    }
    qk_weights_dequant(&first, wd);
    for (int i = 0; i < s->n_cols; i++) {
        memcpy(s->wd_cols + (size_t)i * p->k, wd + (size_t)s->cols[i] * p->k, (size_t)p->k * 4);
        memcpy(s->w_cols + (size_t)i * p->k, s->w + (size_t)s->cols[i] * p->k, (size_t)p->k * 4);
    }
    free(wd);
    return QC_OK;
}

typedef struct call {
    const qk_kernel *k;
    const qk_config *cfg;
    const qk_weights *copies;
    int n_copies, next;
    const uint16_t *x;
    int m;
    void *y, *work;
} call;

static double one_call(void *ctx)
{
    call *c = ctx;
    qk_gemm(c->k, c->cfg, &c->copies[c->next], c->x, c->m, c->y, c->work, NULL);
    c->next = (c->next + 1) % c->n_copies;
    return -1;
}

int qb_time_kernel(const qk_kernel *k, const qk_config *cfg, const qk_weights *copies, int n_copies,
                   const uint16_t *x, int m, void *y, void *work, double min_time, int repetitions, const char *name,
                   cbench_result *out, qc_msgs *err)
{
    call c = {.k = k, .cfg = cfg, .copies = copies, .n_copies = n_copies, .x = x, .m = m, .y = y, .work = work};
    cbench_options co = {.min_time = min_time, .repetitions = repetitions};
    return cbench_run(name, one_call, &c, &co, out, err);
}

/* Relative error over the sampled rows and channels. */
static double sampled_error(const qk_problem *p, const void *y, const int *rows, int nr, const int *cols, int nc,
                            const double *ref)
{
    double num = 0, den = 0;
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) {
            size_t at = (size_t)rows[i] * p->n + cols[j];
            double v = p->out_f32 ? ((const float *)y)[at] : qk_half_to_float(((const uint16_t *)y)[at]);
            double r = ref[(size_t)i * nc + j];
            num += (v - r) * (v - r);
            den += r * r;
        }
    if (!isfinite(num))
        return INFINITY;
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void place(qb_point *pt, const qp_profile *prof, const qb_task *t, int threads)
{
    double gbs, gops;
    qb_ceilings(prof, t, threads, &gbs, &gops);
    if (gbs <= 0 || gops <= 0)
        return;
    double mem = pt->intensity * gbs; /* GFLOP/s the memory allows at this intensity */
    pt->ceiling_gbs = gbs;
    pt->ceiling_gops = gops;
    pt->attainable_gflops = mem < gops ? mem : gops;
    snprintf(pt->bound, sizeof pt->bound, "%s", mem < gops ? "memory" : "compute");
    if (pt->status == QB_OK)
        pt->pct_of_ceiling = 100 * pt->gflops / pt->attainable_gflops;
}

static int run_point(const qb_task *t, wset *ws, const qb_sweep_opts *o, qb_point *pt, qc_msgs *err)
{
    const qk_problem *p = &t->p;
    *pt = t->point;
    qk_cost cost = qk_problem_cost(p);
    pt->bytes = cost.bytes;
    pt->flops = cost.flops;
    pt->intensity = cost.flops / cost.bytes;
    int rc;
    const int cuda = qk_kernel_is_cuda(t->kernel);
    if (!same_weights(&ws->key, p) && (rc = wset_prepare(ws, p, cuda, err)))
        return rc;
    size_t mk = (size_t)p->m * p->k, mn = (size_t)p->m * p->n;
    uint16_t *x = malloc(mk * 2);
    float *x32 = malloc(mk * 4), *xd = malloc(mk * 4);
    void *y = qk_alloc(mn * (p->out_f32 ? 4 : 2)), *work = cuda ? qk_alloc(64) : qk_alloc(t->kernel->workspace(p, &t->cfg));
    if (!x || !x32 || !xd || !y || !work) {
        free(x), free(x32), free(xd), free(y), free(work);
        qc_msgs_addf(err, "out of memory for M=%d N=%d K=%d", p->m, p->n, p->k);
        return QC_ERUNTIME;
    }
    qk_fill_activations(x, x32, p->m, p->k, (uint64_t)p->m * 31 + (uint64_t)p->k);
    qk_activations_dequant(p, x, xd);

    /* check first: a wrong result is recorded and not timed */
    int rows[8], nr = p->m < 8 ? p->m : 8, nc = ws->n_cols;
    for (int i = 0; i < nr; i++)
        rows[i] = (int)((long)i * p->m / nr);
    float *xs = malloc((size_t)nr * p->k * 4), *xo = malloc((size_t)nr * p->k * 4);
    double *ref_d = malloc((size_t)nr * nc * 8), *ref_o = malloc((size_t)nr * nc * 8);
    for (int i = 0; i < nr; i++) {
        memcpy(xs + (size_t)i * p->k, xd + (size_t)rows[i] * p->k, (size_t)p->k * 4);
        memcpy(xo + (size_t)i * p->k, x32 + (size_t)rows[i] * p->k, (size_t)p->k * 4);
    }
    qk_reference_gemm(nr, nc, p->k, xs, ws->wd_cols, ref_d);
    qk_reference_gemm(nr, nc, p->k, xo, ws->w_cols, ref_o);
    memset(y, 0xff, mn * (p->out_f32 ? 4 : 2));
    qc_msgs kerr = {0};
    cbench_result gr = {0};
    /* a GPU point is checked and timed in one go; the check below decides whether the time stands */
    int krc = cuda ? qb_gpu_measure(t->kernel, &t->cfg, &ws->copies[0], x, p->m, y, o->min_time, o->repetitions,
                                    pt->name, &gr, pt->counters, &pt->n_counters, &kerr)
                   : qk_gemm(t->kernel, &t->cfg, &ws->copies[0], x, p->m, y, work, &kerr);
    if (krc != QC_OK) {
        pt->status = QB_FAILED;
        snprintf(pt->error, sizeof pt->error, "%s", kerr.n ? kerr.v[0] : "the kernel refused the problem");
    } else {
        pt->kernel_error = sampled_error(p, y, rows, nr, ws->cols, nc, ref_d);
        pt->quant_error = sampled_error(p, y, rows, nr, ws->cols, nc, ref_o);
        if (!(pt->kernel_error <= qk_error_limit(p))) {
            pt->status = QB_FAILED;
            snprintf(pt->error, sizeof pt->error, "wrong result: kernel error %.3g exceeds %.0e; not timed",
                     pt->kernel_error, qk_error_limit(p));
        }
    }
    qc_msgs_free(&kerr);
    free(xs), free(xo), free(ref_d), free(ref_o), free(xd), free(x32);

    int ti = qk_param_index(t->kernel, "threads"), threads = ti >= 0 ? t->cfg.v[ti] : 1;
    if (pt->status != QB_OK)
        cbench_result_free(&gr); /* a wrong GPU result: its timing does not stand */
    if (pt->status == QB_OK) {
        cbench_result r = gr;
        if (!cuda && (rc = qb_time_kernel(t->kernel, &t->cfg, ws->copies, ws->n_copies, x, p->m, y, work,
                                          o->min_time, o->repetitions, pt->name, &r, err))) {
            free(x), free(y), free(work);
            return rc;
        }
        pt->median_s = r.median_s;
        pt->min_s = r.min_s;
        pt->cv = r.cv;
        pt->repetitions = r.repetitions;
        pt->gbs = cost.bytes / r.median_s / 1e9;
        pt->gflops = cost.flops / r.median_s / 1e9;
        json_error_t je;
        json_t *doc = json_loads(r.json, 0, &je); /* gr's JSON, on a GPU */
        pt->entries = json_incref(json_object_get(doc, "benchmarks"));
        json_decref(doc);
        cbench_result_free(&r);
        snprintf(pt->cache_mode, sizeof pt->cache_mode, "%s",
                 cuda ? "l2-flush" : ws->n_copies * (double)ws->copies[0].bytes >= 8 * llc_bytes() ? "cold" : "warm");
        pt->copies = ws->n_copies;

        /* counters: per call, over a few calls; each unavailable one says why (GPU: CUPTI, above) */
        qh_counters *hc;
        if (!cuda && qh_counters_create(&hc, qh_cpu_events, qh_n_cpu_events, NULL) == QC_OK) {
            const int calls = 3;
            call c = {.k = t->kernel, .cfg = &t->cfg, .copies = ws->copies, .n_copies = ws->n_copies, .x = x,
                      .m = p->m, .y = y, .work = work};
            qh_counters_start(hc);
            for (int i = 0; i < calls; i++)
                one_call(&c);
            qh_counters_stop(hc);
            for (int i = 0; i < qh_counters_count(hc) && pt->n_counters < 7; i++) {
                const qh_counter *k = qh_counters_get(hc, i);
                qb_counter *q = &pt->counters[pt->n_counters++];
                snprintf(q->name, sizeof q->name, "%s", k->name);
                snprintf(q->source, sizeof q->source, "papi");
                q->available = k->available;
                if (k->available)
                    q->value = (double)k->value / calls;
                else
                    snprintf(q->reason, sizeof q->reason, "%s", k->reason);
            }
            qh_counters_destroy(hc);
        }
    }
    /* the cost model's bytes stand beside any measured ones */
    qb_counter *mb = &pt->counters[pt->n_counters++];
    snprintf(mb->name, sizeof mb->name, "bytes_moved");
    snprintf(mb->source, sizeof mb->source, "model");
    mb->available = 1;
    mb->value = cost.bytes;
    place(pt, o->profile, t, threads);
    free(x), free(y), free(work);
    return QC_OK;
}

static void fmt_time(double s, char *buf, size_t len)
{
    int m = (int)(s / 60);
    snprintf(buf, len, "%02d:%02d", m, (int)(s - 60 * m));
}

int qb_sweep_run(const qb_task *tasks, int n, qb_results *res, const qb_sweep_opts *o, int *done, qc_msgs *err)
{
    wset ws = {0};
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
        if (o->log && o->tty)
            fprintf(o->log, "\r\033[K[%d/%d] %s elapsed, %s%s left | %s", count + 1, todo, e1, count ? "~" : "?", e2,
                    t->point.name);
        fflush(o->log);
        qb_point pt;
        if ((rc = run_point(t, &ws, o, &pt, err)))
            break;
        count++;
        if (o->log && !o->tty) {
            if (pt.status == QB_OK)
                fprintf(o->log, "qbench: [%d/%d] %s: %.4g ms, %.2f GB/s, %.2f GFLOP/s%s%.0f%%\n", count, todo, pt.name,
                        pt.median_s * 1e3, pt.gbs, pt.gflops, pt.attainable_gflops > 0 ? ", ceiling " : "",
                        pt.attainable_gflops > 0 ? pt.pct_of_ceiling : 0);
            else
                fprintf(o->log, "qbench: [%d/%d] %s: FAILED: %s\n", count, todo, pt.name, pt.error);
        } else if (o->log && pt.status == QB_FAILED) {
            fprintf(o->log, "\r\033[Kqbench: %s: FAILED: %s\n", pt.name, pt.error);
        }
        qb_results_add(res, &pt);
        if ((rc = qb_results_write(res, o->out, err)))
            break;
    }
    if (o->log && o->tty)
        fprintf(o->log, "\r\033[K");
    wset_free(&ws);
    *done = count;
    return rc;
}
