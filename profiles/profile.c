/* Device profiles: libyaml document API in, libyaml emitter out. The reader walks the
 * node tree against the schema in profile.h and reports every problem with its line. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "profiles/profile.h"

static const char *const spec_keys[QP_SPEC_COUNT] = {
    [QP_MEMORY_BANDWIDTH_GBS] = "memory_bandwidth_gbs",
    [QP_FP32_TFLOPS] = "fp32_tflops",
    [QP_FP16_TFLOPS] = "fp16_tflops",
    [QP_BF16_TFLOPS] = "bf16_tflops",
    [QP_INT8_TOPS] = "int8_tops",
    [QP_FP8_TFLOPS] = "fp8_tflops",
    [QP_SMS] = "sms",
    [QP_CORES] = "cores",
    [QP_THREADS] = "threads",
    [QP_L1_CACHE_KIB] = "l1_cache_kib",
    [QP_L2_CACHE_MIB] = "l2_cache_mib",
    [QP_L3_CACHE_MIB] = "l3_cache_mib",
    [QP_MEMORY_GIB] = "memory_gib",
};

const char *qp_spec_key(qp_spec_id id) { return (unsigned)id < QP_SPEC_COUNT ? spec_keys[id] : "?"; }
const char *qp_backend_name(qp_backend b) { return b == QP_BACKEND_CUDA ? "cuda" : "cpu"; }

/* ------------------------------------------------------------------ reading */

typedef struct ctx {
    const char *file;
    yaml_document_t *doc;
    qc_msgs *err;
    int nerr;
} ctx;

__attribute__((format(printf, 3, 4))) static void errat(ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    qc_msgs_addf(c->err, "%s:%zu: %s", c->file, n ? n->start_mark.line + 1 : 1, buf);
    c->nerr++;
}

static yaml_node_t *node(ctx *c, int id) { return yaml_document_get_node(c->doc, id); }

static int is_null_scalar(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static const char *kind(const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (is_null_scalar(n))
        return "empty";
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "a plain scalar" : "a quoted string";
}

/* A mapping's keys against a table: unknown, duplicate and missing keys are errors. */
typedef struct fieldref {
    const char *key;
    int required;
    yaml_node_t *val; /* out */
} fieldref;

static int take_mapping(ctx *c, yaml_node_t *map, const char *where, fieldref *f, int nf)
{
    int before = c->nerr;
    if (map->type != YAML_MAPPING_NODE) {
        errat(c, map, "%s must be a mapping, got %s (write it as 'key: value' lines)", where, kind(map));
        return -1;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        if (k->type != YAML_SCALAR_NODE) {
            errat(c, k, "%s has a key that is %s (keys are plain names)", where, kind(k));
            continue;
        }
        const char *key = (const char *)k->data.scalar.value;
        int i = 0;
        while (i < nf && strcmp(f[i].key, key))
            i++;
        if (i == nf) {
            char known[512] = "";
            for (int j = 0; j < nf; j++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", j ? ", " : "", f[j].key);
            errat(c, k, "unknown key '%s' in %s (known keys: %s)", key, where, known);
        } else if (f[i].val) {
            errat(c, k, "duplicate key '%s' in %s (first given on line %zu; keep one)", key, where,
                  f[i].val->start_mark.line + 1);
        } else {
            f[i].val = v;
        }
    }
    for (int i = 0; i < nf; i++)
        if (f[i].required && !f[i].val)
            errat(c, map, "missing required key '%s' in %s (add it; see profiles/profile.h for the schema)",
                  f[i].key, where);
    return c->nerr == before ? 0 : -1;
}

static char *get_string(ctx *c, yaml_node_t *n, const char *where)
{
    if (n->type != YAML_SCALAR_NODE || is_null_scalar(n)) {
        errat(c, n, "%s must be a non-empty string, got %s", where, kind(n));
        return NULL;
    }
    return qc_strdup((const char *)n->data.scalar.value);
}

static int get_number(ctx *c, yaml_node_t *n, const char *where, double *out)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || is_null_scalar(n)) {
        errat(c, n, "%s must be a number, got %s (write it unquoted, e.g. 3350)", where, kind(n));
        return -1;
    }
    const char *s = (const char *)n->data.scalar.value;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v)) {
        errat(c, n, "%s must be a number, got '%s'", where, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int get_int(ctx *c, yaml_node_t *n, const char *where, int lo, int hi, int *out)
{
    double v;
    if (get_number(c, n, where, &v))
        return -1;
    if (!(v >= lo && v <= hi) || v != (double)(long)v) { /* the range first: (long)v of 1e20 is undefined */
        errat(c, n, "%s must be a whole number from %d to %d, got %s", where, lo, hi, (const char *)n->data.scalar.value);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int get_nonneg(ctx *c, yaml_node_t *n, const char *where, double *out, int positive)
{
    if (get_number(c, n, where, out))
        return -1;
    if (positive ? *out <= 0 : *out < 0) {
        errat(c, n, "%s is %g: it must be %s", where, *out, positive ? "> 0" : ">= 0");
        return -1;
    }
    return 0;
}

int qp_name_valid(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || strchr("._-", *s)))
            return 0;
    return 1;
}

static void parse_match(ctx *c, yaml_node_t *m, qp_profile *p)
{
    fieldref f[] = {{"backend", 1, NULL}, {"name", 1, NULL}, {"compute_capability", 0, NULL}};
    p->match.cc_major = p->match.cc_minor = -1;
    if (take_mapping(c, m, "match", f, 3) && !(f[0].val || f[1].val || f[2].val))
        return;
    if (f[0].val) {
        char *b = get_string(c, f[0].val, "match.backend");
        if (b && !strcmp(b, "cpu"))
            p->match.backend = QP_BACKEND_CPU;
        else if (b && !strcmp(b, "cuda"))
            p->match.backend = QP_BACKEND_CUDA;
        else if (b)
            errat(c, f[0].val, "match.backend must be cpu or cuda, got '%s'", b);
        free(b);
    }
    if (f[1].val)
        p->match.name = get_string(c, f[1].val, "match.name");
    if (f[2].val) {
        char *cc = get_string(c, f[2].val, "match.compute_capability"), *dot = cc ? strchr(cc, '.') : NULL;
        int maj = 0, min = 0, bad = !dot;
        if (dot) {
            *dot = '\0';
            bad = qc_parse_int(cc, 1, 99, "", &maj, NULL) || qc_parse_int(dot + 1, 0, 99, "", &min, NULL);
            *dot = '.';
        }
        if (cc && bad)
            errat(c, f[2].val, "match.compute_capability must be MAJOR.MINOR such as \"9.0\", got '%s'", cc);
        else if (cc) {
            p->match.cc_major = maj;
            p->match.cc_minor = min;
            if (p->match.backend != QP_BACKEND_CUDA && f[0].val)
                errat(c, f[2].val, "match.compute_capability applies to backend cuda only (remove it)");
        }
        free(cc);
    }
}

static void parse_spec(ctx *c, yaml_node_t *m, qp_profile *p)
{
    if (m->type != YAML_MAPPING_NODE) {
        if (!is_null_scalar(m))
            errat(c, m, "spec must be a mapping of figures, got %s", kind(m));
        return;
    }
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = node(c, pr->key), *v = node(c, pr->value);
        const char *key = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
        int id = 0;
        while (id < QP_SPEC_COUNT && strcmp(spec_keys[id], key))
            id++;
        if (id == QP_SPEC_COUNT) {
            char known[512] = "";
            for (int j = 0; j < QP_SPEC_COUNT; j++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", j ? ", " : "",
                         spec_keys[j]);
            errat(c, k, "unknown key '%s' in spec (known figures: %s)", key, known);
            continue;
        }
        qp_figure *fig = &p->spec[id];
        if (fig->present) {
            errat(c, k, "duplicate key '%s' in spec (keep one)", key);
            continue;
        }
        char where[96];
        snprintf(where, sizeof where, "spec.%s", key);
        fieldref f[] = {{"value", 1, NULL}, {"source", 1, NULL}, {"note", 0, NULL}};
        if (take_mapping(c, v, where, f, 3) && !(f[0].val && f[1].val))
            continue;
        char w2[128];
        snprintf(w2, sizeof w2, "%s.value", where);
        double val;
        if (get_number(c, f[0].val, w2, &val) == 0) {
            if (val <= 0)
                errat(c, f[0].val, "%s is %g: a figure must be > 0 (give the real figure, or remove %s if it is unknown)",
                      w2, val, where);
            fig->value = val;
        }
        snprintf(w2, sizeof w2, "%s.source", where);
        fig->source = get_string(c, f[1].val, w2);
        if (f[2].val) {
            snprintf(w2, sizeof w2, "%s.note", where);
            fig->note = get_string(c, f[2].val, w2);
        }
        fig->present = 1;
    }
}

static void parse_bandwidth(ctx *c, yaml_node_t *item, int idx, qp_profile *p)
{
    char where[64];
    snprintf(where, sizeof where, "measured.bandwidth[%d]", idx);
    fieldref f[] = {{"level", 1, NULL},    {"threads", 1, NULL}, {"working_set", 1, NULL}, {"read_gbs", 1, NULL},
                    {"read_cv", 1, NULL},  {"rw_gbs", 1, NULL},  {"rw_cv", 1, NULL}};
    if (take_mapping(c, item, where, f, 7))
        return;
    qp_bandwidth b = {0};
    char *level = get_string(c, f[0].val, "level");
    int ok = level != NULL;
    if (level && strcmp(level, "L1") && strcmp(level, "L2") && strcmp(level, "L3") && strcmp(level, "DRAM")) {
        errat(c, f[0].val, "%s.level must be L1, L2, L3 or DRAM, got '%s'", where, level);
        ok = 0;
    }
    if (level)
        snprintf(b.level, sizeof b.level, "%s", level);
    free(level);
    ok &= !get_int(c, f[1].val, "threads", 1, 1 << 20, &b.threads);
    ok &= !get_nonneg(c, f[2].val, "working_set", &b.working_set, 1);
    ok &= !get_nonneg(c, f[3].val, "read_gbs", &b.read_gbs, 1);
    ok &= !get_nonneg(c, f[4].val, "read_cv", &b.read_cv, 0);
    ok &= !get_nonneg(c, f[5].val, "rw_gbs", &b.rw_gbs, 1);
    ok &= !get_nonneg(c, f[6].val, "rw_cv", &b.rw_cv, 0);
    if (ok)
        qp_profile_add_bandwidth(p, &b);
}

static void parse_peak(ctx *c, yaml_node_t *item, int idx, qp_profile *p)
{
    static const char *const formats[] = {"fp32_fma", "fp16_fma",    "int8_dot",    "int4_dot",  "fp8_fma",
                                          "bf16_dot", "fp16_tensor", "int8_tensor", "fp8_tensor"};
    char where[64];
    snprintf(where, sizeof where, "measured.peak[%d]", idx);
    fieldref f[] = {{"format", 1, NULL}, {"isa", 1, NULL}, {"threads", 1, NULL}, {"gops", 1, NULL}, {"cv", 1, NULL}};
    if (take_mapping(c, item, where, f, 5))
        return;
    qp_peak k = {0};
    char *format = get_string(c, f[0].val, "format"), *isa = get_string(c, f[1].val, "isa");
    int ok = format && isa, known = 0;
    for (size_t i = 0; format && i < sizeof formats / sizeof formats[0]; i++)
        known |= !strcmp(format, formats[i]);
    if (format && !known) {
        errat(c, f[0].val, "%s.format '%s' is not one qbench measures (fp32_fma, fp16_fma, int8_dot, int4_dot, "
                           "fp8_fma, bf16_dot, fp16_tensor, int8_tensor, fp8_tensor)", where, format);
        ok = 0;
    }
    if (format)
        snprintf(k.format, sizeof k.format, "%s", format);
    if (isa)
        snprintf(k.isa, sizeof k.isa, "%s", isa);
    free(format);
    free(isa);
    ok &= !get_int(c, f[2].val, "threads", 1, 1 << 20, &k.threads);
    ok &= !get_nonneg(c, f[3].val, "gops", &k.gops, 1);
    ok &= !get_nonneg(c, f[4].val, "cv", &k.cv, 0);
    if (ok)
        qp_profile_add_peak(p, &k);
}

static void parse_list(ctx *c, yaml_node_t *n, const char *where, qp_profile *p,
                       void (*item)(ctx *, yaml_node_t *, int, qp_profile *))
{
    if (n->type != YAML_SEQUENCE_NODE) {
        errat(c, n, "%s must be a list ('- {...}' items), got %s", where, kind(n));
        return;
    }
    int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    for (int i = 0; i < count; i++)
        item(c, node(c, n->data.sequence.items.start[i]), i, p);
}

static void parse_measured(ctx *c, yaml_node_t *m, qp_profile *p)
{
    fieldref f[] = {{"date", 1, NULL},    {"host", 1, NULL},      {"qbench_version", 1, NULL}, {"device", 1, NULL},
                    {"threads", 0, NULL}, {"bandwidth", 0, NULL}, {"peak", 0, NULL}};
    take_mapping(c, m, "measured", f, 7);
    char **dst[] = {&p->measured.date, &p->measured.host, &p->measured.qbench_version, &p->measured.device};
    for (int i = 0; i < 4; i++)
        if (f[i].val) {
            char w[64];
            snprintf(w, sizeof w, "measured.%s", f[i].key);
            *dst[i] = get_string(c, f[i].val, w);
        }
    if (f[4].val)
        get_int(c, f[4].val, "measured.threads", 1, 1 << 20, &p->measured.threads);
    if (f[5].val)
        parse_list(c, f[5].val, "measured.bandwidth", p, parse_bandwidth);
    if (f[6].val)
        parse_list(c, f[6].val, "measured.peak", p, parse_peak);
    p->measured.present = 1;
}

static void parse_fit_model(ctx *c, yaml_node_t *item, int idx, qp_profile *p)
{
    char where[48];
    snprintf(where, sizeof where, "fit.models[%d]", idx);
    fieldref f[] = {{"kernel", 1, NULL},   {"format", 1, NULL},    {"threads", 1, NULL},
                    {"mem_eff", 1, NULL},  {"comp_eff", 1, NULL},  {"points", 1, NULL},
                    {"residual", 1, NULL}, {"cv_median", 0, NULL}, {"cv_max", 0, NULL},
                    {"decode_gws", 0, NULL}, {"exposed", 0, NULL}};
    if (take_mapping(c, item, where, f, 11))
        return;
    qp_fit_model m = {.cv_median = -1, .cv_max = -1};
    char *kernel = get_string(c, f[0].val, "kernel"), *format = get_string(c, f[1].val, "format");
    int ok = kernel && format;
    if (ok && (strlen(kernel) >= sizeof m.kernel || strlen(format) >= sizeof m.format)) {
        errat(c, item, "%s: kernel or format name too long", where);
        ok = 0;
    }
    if (ok) {
        snprintf(m.kernel, sizeof m.kernel, "%s", kernel);
        snprintf(m.format, sizeof m.format, "%s", format);
    }
    free(kernel);
    free(format);
    ok &= !get_int(c, f[2].val, "threads", 0, 1 << 20, &m.threads);
    ok &= !get_nonneg(c, f[3].val, "mem_eff", &m.mem_eff, 1);
    ok &= !get_nonneg(c, f[4].val, "comp_eff", &m.comp_eff, 1);
    ok &= !get_int(c, f[5].val, "points", 1, 1 << 30, &m.points);
    ok &= !get_nonneg(c, f[6].val, "residual", &m.residual, 0);
    if (f[7].val)
        ok &= !get_nonneg(c, f[7].val, "cv_median", &m.cv_median, 0);
    if (f[8].val)
        ok &= !get_nonneg(c, f[8].val, "cv_max", &m.cv_max, 0);
    if (f[9].val)
        ok &= !get_nonneg(c, f[9].val, "decode_gws", &m.decode_gws, 0);
    if (f[10].val)
        ok &= !get_nonneg(c, f[10].val, "exposed", &m.exposed, 0);
    if (ok && (m.mem_eff > 1 || m.comp_eff > 1 || m.exposed > 1)) {
        errat(c, item, "%s: an efficiency or the exposed share is a share, at most 1 (mem_eff %g, comp_eff %g, exposed %g)",
              where, m.mem_eff, m.comp_eff, m.exposed);
        ok = 0;
    }
    if (ok) {
        p->fit.model = qc_xrealloc(p->fit.model, sizeof m * (size_t)(p->fit.n_model + 1));
        p->fit.model[p->fit.n_model++] = m;
    }
}

static void parse_fit(ctx *c, yaml_node_t *m, qp_profile *p)
{
    fieldref f[] = {{"date", 1, NULL}, {"qbench_version", 1, NULL}, {"results", 1, NULL}, {"t0_s", 1, NULL},
                    {"models", 1, NULL}};
    take_mapping(c, m, "fit", f, 5);
    char **dst[] = {&p->fit.date, &p->fit.qbench_version, &p->fit.results};
    for (int i = 0; i < 3; i++)
        if (f[i].val) {
            char w[32];
            snprintf(w, sizeof w, "fit.%s", f[i].key);
            *dst[i] = get_string(c, f[i].val, w);
        }
    if (f[3].val)
        get_nonneg(c, f[3].val, "fit.t0_s", &p->fit.t0_s, 0);
    if (f[4].val)
        parse_list(c, f[4].val, "fit.models", p, parse_fit_model);
    p->fit.present = 1;
}

static void parse_root(ctx *c, yaml_node_t *root, qp_profile *p)
{
    fieldref f[] = {
        {"qbench_profile", 1, NULL}, {"name", 1, NULL},  {"vendor", 1, NULL},   {"aliases", 0, NULL},
        {"notes", 0, NULL},          {"match", 1, NULL}, {"spec", 1, NULL},     {"measured", 0, NULL},
        {"fit", 0, NULL},
    };
    enum { F_SCHEMA, F_NAME, F_VENDOR, F_ALIASES, F_NOTES, F_MATCH, F_SPEC, F_MEASURED, F_FIT };
    if (root->type != YAML_MAPPING_NODE) {
        errat(c, root, "not a qbench profile: the top level is %s (a profile is a mapping that starts with "
                       "'qbench_profile: %d')", kind(root), QP_SCHEMA_VERSION);
        return;
    }
    take_mapping(c, root, "the profile", f, 9);
    /* The version decides how to read the rest: check it first and stop when it is not ours. */
    if (f[F_SCHEMA].val) {
        double v;
        if (get_number(c, f[F_SCHEMA].val, "qbench_profile", &v) == 0) {
            if (v != QP_SCHEMA_VERSION) {
                errat(c, f[F_SCHEMA].val,
                      "unsupported schema version %s (this qbench reads qbench_profile: %d; use a matching "
                      "qbench or convert the file)",
                      (const char *)f[F_SCHEMA].val->data.scalar.value, QP_SCHEMA_VERSION);
                return;
            }
            p->schema = (int)v;
        }
    }
    if (f[F_NAME].val) {
        p->name = get_string(c, f[F_NAME].val, "name");
        if (p->name && !qp_name_valid(p->name))
            errat(c, f[F_NAME].val, "name '%s' may hold only a-z, 0-9, '.', '_' and '-' (it names files)", p->name);
    }
    if (f[F_VENDOR].val)
        p->vendor = get_string(c, f[F_VENDOR].val, "vendor");
    if (f[F_NOTES].val)
        p->notes = get_string(c, f[F_NOTES].val, "notes");
    if (f[F_ALIASES].val) {
        yaml_node_t *a = f[F_ALIASES].val;
        if (a->type != YAML_SEQUENCE_NODE) {
            errat(c, a, "aliases must be a list of names such as [h100], got %s", kind(a));
        } else {
            int n = (int)(a->data.sequence.items.top - a->data.sequence.items.start);
            p->aliases = qc_xcalloc((size_t)n, sizeof *p->aliases);
            for (int i = 0; i < n; i++) {
                yaml_node_t *it = node(c, a->data.sequence.items.start[i]);
                char *s = get_string(c, it, "each alias");
                if (s && !qp_name_valid(s))
                    errat(c, it, "alias '%s' may hold only a-z, 0-9, '.', '_' and '-'", s);
                if (s)
                    p->aliases[p->n_aliases++] = s;
            }
        }
    }
    if (f[F_MATCH].val)
        parse_match(c, f[F_MATCH].val, p);
    if (f[F_SPEC].val)
        parse_spec(c, f[F_SPEC].val, p);
    if (f[F_MEASURED].val)
        parse_measured(c, f[F_MEASURED].val, p);
    if (f[F_FIT].val)
        parse_fit(c, f[F_FIT].val, p);
}

static const char *yaml_problem(const yaml_parser_t *y, char *buf, size_t len, size_t *line)
{
    *line = y->problem_mark.line + 1;
    if (y->context)
        snprintf(buf, len, "%s %s", y->problem ? y->problem : "syntax error", y->context);
    else
        snprintf(buf, len, "%s", y->problem ? y->problem : "syntax error");
    return buf;
}

/* libyaml's scanner takes time quadratic in the nesting of flow collections ([ and {): a
 * megabyte of '[' takes minutes. Their depth is counted here first, outside quoted scalars and
 * comments, and a profile nested deeper than QP_MAX_DEPTH is refused before libyaml reads it. */
static int flow_depth_ok(const char *text, size_t len, const char *name, qc_msgs *err)
{
    int depth = 0;
    size_t line = 1;
    char quote = 0, prev = '\n';
    for (size_t i = 0; i < len; prev = text[i++]) {
        char ch = text[i];
        if (ch == '\n')
            line++;
        if (quote) {
            if (quote == '"' && ch == '\\' && i + 1 < len)
                i++;
            else if (ch == quote)
                quote = quote == '\'' && i + 1 < len && text[i + 1] == '\'' ? (i++, quote) : 0;
            continue;
        }
        if (ch == '#' && (prev == ' ' || prev == '\t' || prev == '\n')) { /* a comment, to the end of the line */
            while (i + 1 < len && text[i + 1] != '\n')
                i++;
        } else if ((ch == '\'' || ch == '"') && strchr(" \t\n[{,:", prev)) {
            quote = ch;
        } else if (ch == '[' || ch == '{') {
            if (++depth > QP_MAX_DEPTH) {
                qc_msgs_addf(err, "%s:%zu: YAML nested more than %d levels deep (a profile is a few levels of "
                                  "mappings; give a qbench profile)", name, line, QP_MAX_DEPTH);
                return 0;
            }
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return 1;
}

/* A profile is plain YAML: no tags (!!str 2039 is not a number; !!python/object is not data),
 * no anchors or aliases (a few lines of aliases can stand for billions of nodes), and no
 * block nesting deeper than QP_MAX_DEPTH. Checked on libyaml's events before the document is
 * built. */
static int plain_yaml_ok(const char *text, size_t len, const char *name, qc_msgs *err)
{
    yaml_parser_t y;
    yaml_event_t ev;
    yaml_parser_initialize(&y);
    yaml_parser_set_input_string(&y, (const unsigned char *)text, len);
    int ok = 1, depth = 0;
    for (;;) {
        if (!yaml_parser_parse(&y, &ev))
            break; /* a syntax error: the loader reports it with its line */
        size_t line = ev.start_mark.line + 1;
        const yaml_char_t *tag = ev.type == YAML_SCALAR_EVENT           ? ev.data.scalar.tag
                                 : ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.tag
                                 : ev.type == YAML_MAPPING_START_EVENT  ? ev.data.mapping_start.tag
                                                                        : NULL;
        const yaml_char_t *anchor = ev.type == YAML_SCALAR_EVENT           ? ev.data.scalar.anchor
                                    : ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
                                    : ev.type == YAML_MAPPING_START_EVENT  ? ev.data.mapping_start.anchor
                                                                           : NULL;
        if (tag) {
            qc_msgs_addf(err, "%s:%zu: a YAML tag ('%s') is not part of a profile (remove it: values are plain "
                              "numbers and strings)", name, line, (const char *)tag);
            ok = 0;
        } else if (anchor || ev.type == YAML_ALIAS_EVENT) {
            qc_msgs_addf(err, "%s:%zu: YAML anchors and aliases (& and *) are not part of a profile (write the "
                              "values out)", name, line);
            ok = 0;
        } else if ((ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) &&
                   ++depth > QP_MAX_DEPTH) {
            qc_msgs_addf(err, "%s:%zu: YAML nested more than %d levels deep (a profile is a few levels of "
                              "mappings; give a qbench profile)", name, line, QP_MAX_DEPTH);
            ok = 0;
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        int end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (!ok || end)
            break;
    }
    yaml_parser_delete(&y);
    return ok;
}

int qp_profile_parse(const char *text, size_t len, const char *name, qp_profile **out, qc_msgs *err)
{
    *out = NULL;
    ctx c = {.file = name, .err = err};
    if (memchr(text, '\0', len)) {
        size_t line = 1;
        for (const char *s = text; *s; s++)
            line += *s == '\n';
        qc_msgs_addf(err, "%s:%zu: binary data (a NUL byte) in what should be a YAML text file (give a "
                          "qbench profile .yaml)", name, line);
        return QC_EINPUT;
    }
    if (len > QP_MAX_BYTES) {
        qc_msgs_addf(err, "%s: larger than %zu bytes, more than a device profile can be (give the right file)", name,
                     (size_t)QP_MAX_BYTES);
        return QC_EINPUT;
    }
    if (!flow_depth_ok(text, len, name, err) || !plain_yaml_ok(text, len, name, err))
        return QC_EINPUT;
    yaml_parser_t y;
    yaml_document_t doc;
    yaml_parser_initialize(&y);
    yaml_parser_set_input_string(&y, (const unsigned char *)text, len);
    char buf[512];
    size_t line;
    if (!yaml_parser_load(&y, &doc)) {
        yaml_problem(&y, buf, sizeof buf, &line);
        qc_msgs_addf(err, "%s:%zu: not valid YAML: %s (a profile is a YAML mapping; check the syntax there)",
                     name, line, buf);
        yaml_parser_delete(&y);
        return QC_EINPUT;
    }
    c.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    qp_profile *p = NULL;
    if (!root) {
        qc_msgs_addf(err, "%s:1: empty file (a profile needs qbench_profile: %d, name, vendor, match and spec)",
                     name, QP_SCHEMA_VERSION);
        c.nerr++;
    } else {
        yaml_document_t extra;
        if (!yaml_parser_load(&y, &extra)) {
            yaml_problem(&y, buf, sizeof buf, &line);
            qc_msgs_addf(err, "%s:%zu: not valid YAML: %s", name, line, buf);
            c.nerr++;
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&extra);
            if (r2) {
                qc_msgs_addf(err, "%s:%zu: a second YAML document (a profile file holds exactly one; remove "
                                  "the '---' and what follows, or split the file)",
                             name, r2->start_mark.line + 1);
                c.nerr++;
            }
            yaml_document_delete(&extra);
        }
        p = qc_xcalloc(1, sizeof *p);
        parse_root(&c, root, p);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&y);
    if (c.nerr) {
        qp_profile_free(p);
        return QC_EINPUT;
    }
    p->origin = qc_strdup(name);
    *out = p;
    return QC_OK;
}

int qp_profile_load(const char *path, qp_profile **out, qc_msgs *err)
{
    char *text;
    size_t len;
    *out = NULL;
    int rc = qc_read_file(path, QP_MAX_BYTES, "a device profile", &text, &len, err);
    if (rc)
        return rc;
    rc = qp_profile_parse(text, len, path, out, err);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ writing */

static int add_str(yaml_document_t *d, const char *s, yaml_scalar_style_t style)
{
    return yaml_document_add_scalar(d, NULL, (yaml_char_t *)s, -1, style);
}

static int add_num(yaml_document_t *d, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    return add_str(d, buf, YAML_PLAIN_SCALAR_STYLE);
}

static void put(yaml_document_t *d, int map, const char *key, int value)
{
    yaml_document_append_mapping_pair(d, map, add_str(d, key, YAML_PLAIN_SCALAR_STYLE), value);
}

int qp_profile_emit(const qp_profile *p, FILE *f, qc_msgs *err)
{
    yaml_document_t d;
    yaml_document_initialize(&d, NULL, NULL, NULL, 1, 1);
    int root = yaml_document_add_mapping(&d, NULL, YAML_BLOCK_MAPPING_STYLE);
    put(&d, root, "qbench_profile", add_num(&d, QP_SCHEMA_VERSION));
    put(&d, root, "name", add_str(&d, p->name, YAML_ANY_SCALAR_STYLE));
    put(&d, root, "vendor", add_str(&d, p->vendor, YAML_ANY_SCALAR_STYLE));
    if (p->n_aliases) {
        int seq = yaml_document_add_sequence(&d, NULL, YAML_FLOW_SEQUENCE_STYLE);
        for (int i = 0; i < p->n_aliases; i++)
            yaml_document_append_sequence_item(&d, seq, add_str(&d, p->aliases[i], YAML_ANY_SCALAR_STYLE));
        put(&d, root, "aliases", seq);
    }
    if (p->notes)
        put(&d, root, "notes", add_str(&d, p->notes, YAML_DOUBLE_QUOTED_SCALAR_STYLE));
    int m = yaml_document_add_mapping(&d, NULL, YAML_BLOCK_MAPPING_STYLE);
    put(&d, m, "backend", add_str(&d, qp_backend_name(p->match.backend), YAML_PLAIN_SCALAR_STYLE));
    put(&d, m, "name", add_str(&d, p->match.name, YAML_DOUBLE_QUOTED_SCALAR_STYLE));
    if (p->match.cc_major >= 0) {
        char cc[32];
        snprintf(cc, sizeof cc, "%d.%d", p->match.cc_major, p->match.cc_minor);
        put(&d, m, "compute_capability", add_str(&d, cc, YAML_DOUBLE_QUOTED_SCALAR_STYLE));
    }
    put(&d, root, "match", m);
    int spec = yaml_document_add_mapping(&d, NULL, YAML_BLOCK_MAPPING_STYLE);
    for (int i = 0; i < QP_SPEC_COUNT; i++) {
        const qp_figure *fig = &p->spec[i];
        if (!fig->present)
            continue;
        int fm = yaml_document_add_mapping(&d, NULL, YAML_FLOW_MAPPING_STYLE);
        put(&d, fm, "value", add_num(&d, fig->value));
        put(&d, fm, "source", add_str(&d, fig->source, YAML_DOUBLE_QUOTED_SCALAR_STYLE));
        if (fig->note)
            put(&d, fm, "note", add_str(&d, fig->note, YAML_DOUBLE_QUOTED_SCALAR_STYLE));
        put(&d, spec, qp_spec_key(i), fm);
    }
    put(&d, root, "spec", spec);
    if (p->measured.present) {
        int ms = yaml_document_add_mapping(&d, NULL, YAML_BLOCK_MAPPING_STYLE);
        put(&d, ms, "date", add_str(&d, p->measured.date, YAML_PLAIN_SCALAR_STYLE));
        put(&d, ms, "host", add_str(&d, p->measured.host, YAML_DOUBLE_QUOTED_SCALAR_STYLE));
        put(&d, ms, "qbench_version", add_str(&d, p->measured.qbench_version, YAML_DOUBLE_QUOTED_SCALAR_STYLE));
        put(&d, ms, "device", add_str(&d, p->measured.device, YAML_DOUBLE_QUOTED_SCALAR_STYLE));
        if (p->measured.threads)
            put(&d, ms, "threads", add_num(&d, p->measured.threads));
        if (p->measured.n_bw) {
            int seq = yaml_document_add_sequence(&d, NULL, YAML_BLOCK_SEQUENCE_STYLE);
            for (int i = 0; i < p->measured.n_bw; i++) {
                const qp_bandwidth *b = &p->measured.bw[i];
                int it = yaml_document_add_mapping(&d, NULL, YAML_FLOW_MAPPING_STYLE);
                put(&d, it, "level", add_str(&d, b->level, YAML_PLAIN_SCALAR_STYLE));
                put(&d, it, "threads", add_num(&d, b->threads));
                put(&d, it, "working_set", add_num(&d, b->working_set));
                put(&d, it, "read_gbs", add_num(&d, b->read_gbs));
                put(&d, it, "read_cv", add_num(&d, b->read_cv));
                put(&d, it, "rw_gbs", add_num(&d, b->rw_gbs));
                put(&d, it, "rw_cv", add_num(&d, b->rw_cv));
                yaml_document_append_sequence_item(&d, seq, it);
            }
            put(&d, ms, "bandwidth", seq);
        }
        if (p->measured.n_peak) {
            int seq = yaml_document_add_sequence(&d, NULL, YAML_BLOCK_SEQUENCE_STYLE);
            for (int i = 0; i < p->measured.n_peak; i++) {
                const qp_peak *k = &p->measured.peak[i];
                int it = yaml_document_add_mapping(&d, NULL, YAML_FLOW_MAPPING_STYLE);
                put(&d, it, "format", add_str(&d, k->format, YAML_PLAIN_SCALAR_STYLE));
                put(&d, it, "isa", add_str(&d, k->isa, YAML_PLAIN_SCALAR_STYLE));
                put(&d, it, "threads", add_num(&d, k->threads));
                put(&d, it, "gops", add_num(&d, k->gops));
                put(&d, it, "cv", add_num(&d, k->cv));
                yaml_document_append_sequence_item(&d, seq, it);
            }
            put(&d, ms, "peak", seq);
        }
        put(&d, root, "measured", ms);
    }
    if (p->fit.present) {
        int fm = yaml_document_add_mapping(&d, NULL, YAML_BLOCK_MAPPING_STYLE);
        put(&d, fm, "date", add_str(&d, p->fit.date, YAML_PLAIN_SCALAR_STYLE));
        put(&d, fm, "qbench_version", add_str(&d, p->fit.qbench_version, YAML_DOUBLE_QUOTED_SCALAR_STYLE));
        put(&d, fm, "results", add_str(&d, p->fit.results, YAML_DOUBLE_QUOTED_SCALAR_STYLE));
        put(&d, fm, "t0_s", add_num(&d, p->fit.t0_s));
        int seq = yaml_document_add_sequence(&d, NULL, YAML_BLOCK_SEQUENCE_STYLE);
        for (int i = 0; i < p->fit.n_model; i++) {
            const qp_fit_model *m = &p->fit.model[i];
            int it = yaml_document_add_mapping(&d, NULL, YAML_FLOW_MAPPING_STYLE);
            put(&d, it, "kernel", add_str(&d, m->kernel, YAML_PLAIN_SCALAR_STYLE));
            put(&d, it, "format", add_str(&d, m->format, YAML_PLAIN_SCALAR_STYLE));
            put(&d, it, "threads", add_num(&d, m->threads));
            put(&d, it, "mem_eff", add_num(&d, m->mem_eff));
            put(&d, it, "comp_eff", add_num(&d, m->comp_eff));
            if (m->decode_gws > 0)
                put(&d, it, "decode_gws", add_num(&d, m->decode_gws));
            if (m->exposed > 0)
                put(&d, it, "exposed", add_num(&d, m->exposed));
            put(&d, it, "points", add_num(&d, m->points));
            put(&d, it, "residual", add_num(&d, m->residual));
            if (m->cv_median >= 0) {
                put(&d, it, "cv_median", add_num(&d, m->cv_median));
                put(&d, it, "cv_max", add_num(&d, m->cv_max));
            }
            yaml_document_append_sequence_item(&d, seq, it);
        }
        put(&d, fm, "models", seq);
        put(&d, root, "fit", fm);
    }

    fprintf(f, "# qbench device profile, schema %d (see profiles/profile.h in qbench)\n", QP_SCHEMA_VERSION);
    yaml_emitter_t e;
    yaml_emitter_initialize(&e);
    yaml_emitter_set_output_file(&e, f);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, 240);
    int ok = yaml_emitter_open(&e) && yaml_emitter_dump(&e, &d) && yaml_emitter_close(&e) && yaml_emitter_flush(&e);
    if (!ok)
        qc_msgs_addf(err, "writing profile %s: %s", p->name, e.problem ? e.problem : "YAML emitter failed");
    yaml_emitter_delete(&e);
    yaml_document_delete(&d); /* already emptied by a successful dump; harmless otherwise */
    return ok ? QC_OK : QC_ERUNTIME;
}

int qp_profile_write(const qp_profile *p, const char *path, qc_msgs *err)
{
    qc_outfile o;
    int rc = qc_outfile_open(&o, path, err);
    if (rc)
        return rc;
    rc = qp_profile_emit(p, o.f, err);
    if (rc) {
        qc_outfile_abort(&o);
        return rc;
    }
    return qc_outfile_commit(&o, err);
}

/* ------------------------------------------------------------------ building, copying */

qp_profile *qp_profile_new(const char *name, const char *vendor, qp_backend backend, const char *match_name)
{
    qp_profile *p = qc_xcalloc(1, sizeof *p);
    p->schema = QP_SCHEMA_VERSION;
    p->name = qc_strdup(name);
    p->vendor = qc_strdup(vendor);
    p->match.backend = backend;
    p->match.name = qc_strdup(match_name);
    p->match.cc_major = p->match.cc_minor = -1;
    return p;
}

void qp_profile_set(qp_profile *p, qp_spec_id id, double value, const char *source, const char *note)
{
    qp_figure *f = &p->spec[id];
    free(f->source);
    free(f->note);
    f->present = 1;
    f->value = value;
    f->source = qc_strdup(source);
    f->note = qc_strdup(note);
}

void qp_profile_set_measured(qp_profile *p, const char *device)
{
    char date[32], host[256] = "unknown";
    qc_utc_now(date, sizeof date);
    gethostname(host, sizeof host - 1);
    free(p->measured.date);
    free(p->measured.host);
    free(p->measured.qbench_version);
    free(p->measured.device);
    p->measured.present = 1;
    p->measured.date = qc_strdup(date);
    p->measured.host = qc_strdup(host);
    p->measured.qbench_version = qc_strdup(QBENCH_VERSION);
    p->measured.device = qc_strdup(device);
}

qp_profile *qp_profile_copy(const qp_profile *s)
{
    qp_profile *p = qc_xcalloc(1, sizeof *p);
    *p = *s;
    p->name = qc_strdup(s->name);
    p->vendor = qc_strdup(s->vendor);
    p->notes = qc_strdup(s->notes);
    p->aliases = qc_xcalloc((size_t)s->n_aliases, sizeof *p->aliases);
    for (int i = 0; i < s->n_aliases; i++)
        p->aliases[i] = qc_strdup(s->aliases[i]);
    p->match.name = qc_strdup(s->match.name);
    for (int i = 0; i < QP_SPEC_COUNT; i++) {
        p->spec[i].source = qc_strdup(s->spec[i].source);
        p->spec[i].note = qc_strdup(s->spec[i].note);
    }
    p->measured.date = qc_strdup(s->measured.date);
    p->measured.host = qc_strdup(s->measured.host);
    p->measured.qbench_version = qc_strdup(s->measured.qbench_version);
    p->measured.device = qc_strdup(s->measured.device);
    p->measured.bw = NULL;
    p->measured.peak = NULL;
    p->fit.date = qc_strdup(s->fit.date);
    p->fit.qbench_version = qc_strdup(s->fit.qbench_version);
    p->fit.results = qc_strdup(s->fit.results);
    p->fit.t0_s = s->fit.t0_s;
    p->fit.model = NULL;
    if (s->fit.n_model) {
        p->fit.model = qc_xcalloc((size_t)s->fit.n_model, sizeof *p->fit.model);
        memcpy(p->fit.model, s->fit.model, sizeof *p->fit.model * (size_t)s->fit.n_model);
    }
    p->measured.n_bw = p->measured.n_peak = 0;
    for (int i = 0; i < s->measured.n_bw; i++)
        qp_profile_add_bandwidth(p, &s->measured.bw[i]);
    for (int i = 0; i < s->measured.n_peak; i++)
        qp_profile_add_peak(p, &s->measured.peak[i]);
    p->origin = qc_strdup(s->origin);
    return p;
}

void qp_profile_free(qp_profile *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->vendor);
    free(p->notes);
    for (int i = 0; i < p->n_aliases; i++)
        free(p->aliases[i]);
    free(p->aliases);
    free(p->match.name);
    for (int i = 0; i < QP_SPEC_COUNT; i++) {
        free(p->spec[i].source);
        free(p->spec[i].note);
    }
    free(p->measured.date);
    free(p->measured.host);
    free(p->measured.qbench_version);
    free(p->measured.device);
    free(p->measured.bw);
    free(p->measured.peak);
    free(p->fit.date);
    free(p->fit.qbench_version);
    free(p->fit.results);
    free(p->fit.model);
    free(p->origin);
    free(p);
}

int qp_profile_matches(const qp_profile *p, qp_backend backend, const char *device_name, int cc_major, int cc_minor)
{
    if (p->match.backend != backend || !p->match.name || !device_name)
        return 0;
    if (fnmatch(p->match.name, device_name, FNM_CASEFOLD) != 0)
        return 0;
    if (p->match.cc_major >= 0 && (p->match.cc_major != cc_major || p->match.cc_minor != cc_minor))
        return 0;
    return 1;
}

int qp_profile_named(const qp_profile *p, const char *name)
{
    if (!strcmp(p->name, name))
        return 1;
    for (int i = 0; i < p->n_aliases; i++)
        if (!strcmp(p->aliases[i], name))
            return 1;
    return 0;
}

void qp_profile_add_bandwidth(qp_profile *p, const qp_bandwidth *b)
{
    p->measured.bw = qc_xrealloc(p->measured.bw, sizeof *b * (size_t)(p->measured.n_bw + 1));
    p->measured.bw[p->measured.n_bw++] = *b;
}

void qp_profile_add_peak(qp_profile *p, const qp_peak *k)
{
    p->measured.peak = qc_xrealloc(p->measured.peak, sizeof *k * (size_t)(p->measured.n_peak + 1));
    p->measured.peak[p->measured.n_peak++] = *k;
}

const qp_bandwidth *qp_profile_bandwidth(const qp_profile *p, const char *level, int threads)
{
    const qp_bandwidth *best = NULL;
    for (int i = 0; i < p->measured.n_bw; i++) {
        const qp_bandwidth *b = &p->measured.bw[i];
        if (strcmp(b->level, level))
            continue;
        if (threads ? b->threads == threads : !best || b->threads > best->threads)
            best = b;
    }
    return best;
}

const qp_peak *qp_profile_peak(const qp_profile *p, const char *format, int threads)
{
    const qp_peak *best = NULL;
    for (int i = 0; i < p->measured.n_peak; i++) {
        const qp_peak *k = &p->measured.peak[i];
        if (strcmp(k->format, format))
            continue;
        if (threads ? k->threads == threads : !best || k->threads > best->threads)
            best = k;
    }
    return best;
}

/* The datasheet figure of a number format's peak, and its scale to GOP/s. */
static const struct {
    const char *format;
    qp_spec_id id;
} spec_peaks[] = {
    {"fp32_fma", QP_FP32_TFLOPS},    {"fp16_tensor", QP_FP16_TFLOPS}, {"bf16_tensor", QP_BF16_TFLOPS},
    {"int8_tensor", QP_INT8_TOPS},   {"fp8_tensor", QP_FP8_TFLOPS},
};

double qp_profile_peak_gops(const qp_profile *p, const char *format, int threads, const char **source)
{
    const qp_peak *k = qp_profile_peak(p, format, threads);
    if (k) {
        *source = "measured";
        return k->gops;
    }
    *source = "spec";
    for (size_t i = 0; i < sizeof spec_peaks / sizeof spec_peaks[0]; i++)
        if (!strcmp(spec_peaks[i].format, format) && p->spec[spec_peaks[i].id].present)
            return p->spec[spec_peaks[i].id].value * 1000;
    return 0;
}

double qp_profile_bandwidth_gbs(const qp_profile *p, const char *level, int threads, const char **source)
{
    const qp_bandwidth *b = qp_profile_bandwidth(p, level, threads);
    if (b) {
        *source = "measured";
        return b->read_gbs;
    }
    *source = "spec";
    if (!strcmp(level, "DRAM") && p->spec[QP_MEMORY_BANDWIDTH_GBS].present)
        return p->spec[QP_MEMORY_BANDWIDTH_GBS].value;
    return 0;
}

void qp_profile_set_fit(qp_profile *p, const char *results, double t0_s, const qp_fit_model *m, int n)
{
    char date[32];
    qc_utc_now(date, sizeof date);
    free(p->fit.date);
    free(p->fit.qbench_version);
    free(p->fit.results);
    free(p->fit.model);
    p->fit.present = 1;
    p->fit.date = qc_strdup(date);
    p->fit.qbench_version = qc_strdup(QBENCH_VERSION);
    p->fit.results = qc_strdup(results);
    p->fit.t0_s = t0_s;
    p->fit.model = qc_xcalloc((size_t)(n > 0 ? n : 1), sizeof *m);
    memcpy(p->fit.model, m, sizeof *m * (size_t)n);
    p->fit.n_model = n;
}

const qp_fit_model *qp_profile_fit(const qp_profile *p, const char *kernel, const char *format, int threads)
{
    for (int i = 0; i < p->fit.n_model; i++)
        if (!strcmp(p->fit.model[i].kernel, kernel) && !strcmp(p->fit.model[i].format, format) &&
            (p->fit.model[i].threads == threads || !threads))
            return &p->fit.model[i];
    return NULL;
}
