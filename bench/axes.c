/* Sweep axes: integer lists and ranges, schemes, layer-shape sets of common LLMs, and the
 * quick and default grids. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sweep.h"

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

