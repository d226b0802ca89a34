/* Sweep axes: integer lists and ranges, schemes, layer-shape sets of common LLMs, and the
 * quick and default grids. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sweep.h"

/* One piece of a range, strictly a whole number. */
static int piece(const char *opt, const char *text, const char *item, const char *p, long *v, qc_msgs *err)
{
    if (qc_parse_long(p, LONG_MIN, LONG_MAX, opt, v, NULL) == QC_OK)
        return QC_OK;
    qc_msgs_addf(err, "%s '%s': '%s' is not a number, a list (1,2,4) or a range (1:64, 1:64:*4, 128:1024:128)", opt,
                 text, item);
    return QC_EINPUT;
}

int qb_parse_ints(const char *opt, const char *text, int lo, int hi, int *out, int *n, qc_msgs *err)
{
    *n = 0;
    char *copy = qc_strdup(text), *save = NULL;
    int rc = QC_OK;
    for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        /* a, a:b (powers of two), a:b:step, a:b:*factor */
        char *part[3] = {item, NULL, NULL}, *orig = qc_strdup(item);
        int np = 1;
        for (char *c = item; *c; c++)
            if (*c == ':') {
                *c = '\0';
                if (np == 3) /* a fourth part: no such range */
                    np = 4;
                else
                    part[np++] = c + 1;
            }
        long a = 0, b = 0, step = 2;
        int mul = 1;
        rc = piece(opt, text, orig, np == 4 ? "" : part[0], &a, err);
        if (!rc)
            rc = np > 1 ? piece(opt, text, orig, part[1], &b, err) : (b = a, QC_OK);
        if (!rc && np == 3) {
            mul = part[2][0] == '*';
            rc = piece(opt, text, orig, part[2] + mul, &step, err);
        }
        if (np == 1)
            mul = 0, step = 1;
        if (!rc && (a < lo || b > hi || a > b || (mul ? step < 2 : step < 1))) {
            qc_msgs_addf(err, "%s '%s': '%s' must stay within %d..%d, go upwards, and step by at least %s", opt, text,
                         orig, lo, hi, mul ? "*2" : "1");
            rc = QC_EINPUT;
        }
        for (long v = a; !rc && v <= b;) {
            int seen = 0;
            for (int i = 0; i < *n; i++)
                seen |= out[i] == v;
            if (!seen && *n == QB_MAX_AXIS) {
                qc_msgs_addf(err, "%s '%s': more than %d values (qbench's limit for an axis)", opt, text, QB_MAX_AXIS);
                rc = QC_EINPUT;
            } else if (!seen) {
                out[(*n)++] = (int)v;
            }
            if (mul ? v > b / step : v > b - step) /* the next value would pass b (or overflow) */
                break;
            v = mul ? v * step : v + step;
        }
        free(orig);
    }
    free(copy);
    if (!rc && *n == 0) {
        qc_msgs_addf(err, "%s: no values given", opt);
        rc = QC_EINPUT;
    }
    return rc;
}

int qb_parse_groups(const char *text, qb_axes *a, qc_msgs *err)
{
    int rc = qb_parse_ints("--group", text, -1, 1 << 20, a->group, &a->n_group, err);
    for (int i = 0; i < a->n_group && !rc; i++)
        if (a->group[i] != -1 && (a->group[i] < 8 || a->group[i] % 8)) {
            qc_msgs_addf(err, "--group '%s': group %d: use -1 (per channel) or a multiple of 8 such as 32, 64, 128",
                         text, a->group[i]);
            rc = QC_EINPUT;
        }
    return rc;
}

int qb_parse_schemes(const char *text, qb_axes *a, qc_msgs *err)
{
    a->n_scheme = 0;
    char *copy = qc_strdup(text), *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        qk_scheme s;
        if (qk_scheme_parse(item, &s)) {
            qc_msgs_addf(err, "--schemes: unknown scheme '%s' (use %s)", item, qk_scheme_list());
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
    s->layer = -1;
    return QC_OK;
}

void qb_axes_model(qb_axes *a, const qm_model *m)
{
    const qm_arch *ar = qm_model_arch(m);
    a->n_shape = 0;
    a->model = m;
    for (int i = 0; i < ar->n_layer; i++)
        if (ar->layer[i].same_as < 0) {
            add_shape(a, ar->layer[i].name, ar->layer[i].n, ar->layer[i].k, NULL);
            a->shape[a->n_shape - 1].layer = i;
        }
}

int qb_parse_holdout(const char *text, qb_axes *a, qc_msgs *err)
{
    qb_axes *tmp = qc_xcalloc(1, sizeof *tmp);
    int rc = qb_parse_shapes(text, tmp, err);
    if (!rc) {
        memcpy(a->holdout, tmp->shape, sizeof a->holdout);
        a->n_holdout = tmp->n_shape;
    }
    free(tmp);
    return rc;
}

int qb_parse_shapes(const char *text, qb_axes *a, qc_msgs *err)
{
    a->n_shape = 0;
    char *copy = qc_strdup(text), *save = NULL;
    int rc = QC_OK;
    for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        char *x = strchr(item, 'x');
        if (x && item[0] >= '0' && item[0] <= '9') { /* NxK */
            int n, k;
            *x = '\0';
            if (qc_parse_int(item, 1, 1 << 30, "N", &n, NULL) || qc_parse_int(x + 1, 1, 1 << 30, "K", &k, NULL)) {
                *x = 'x';
                qc_msgs_addf(err, "--shapes: '%s': N and K are whole numbers from 1 to %d", item, 1 << 30);
                rc = QC_EINPUT;
            } else {
                *x = 'x';
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

