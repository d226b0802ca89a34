/* The results file: Google Benchmark's JSON with each point's fields on its entries. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench/results.h"

static const char *const status_names[] = {"ok", "failed", "predicted"};

void qb_point_name(qb_point *p)
{
    char group[24] = "", smooth[112] = "";
    if (qk_scheme_grouped(p->p.scheme))
        snprintf(group, sizeof group, "/g%d/%s", p->p.group, p->p.asym ? "asym" : "sym");
    else if (p->p.scheme == QK_FP8 && p->p.fp8_channel)
        snprintf(group, sizeof group, "/ch");
    if (p->smooth >= 0)
        snprintf(smooth, sizeof smooth, "/smooth%.2f", p->smooth);
    if (p->warm)
        snprintf(smooth + strlen(smooth), sizeof smooth - strlen(smooth), "/warm");
    if (*p->layer)
        snprintf(smooth + strlen(smooth), sizeof smooth - strlen(smooth), "/%s", p->layer);
    /* the output's type; a quantized scheme's bf16 activations before it */
    const char *in = p->p.scheme != QK_BF16 && qk_problem_bf16(&p->p) ? "bf16-" : "";
    snprintf(p->name, sizeof p->name, "%s%s/%s%s/m%d/n%d/k%d%s/%s/%s", qk_scheme_name(p->p.scheme), group, in,
             qk_problem_out_name(&p->p), p->p.m, p->p.n, p->p.k, smooth, p->kernel, p->config);
}

double qb_sqnr_db(double relative_error)
{
    return relative_error > 0 ? -20 * log10(relative_error) : INFINITY;
}

void qb_point_add_counter(qb_point *p, const char *name, const char *source, double value, const char *reason)
{
    p->counters = qc_xrealloc(p->counters, sizeof *p->counters * (size_t)(p->n_counters + 1));
    qb_counter *c = &p->counters[p->n_counters++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->source, sizeof c->source, "%s", source);
    c->available = reason == NULL;
    c->value = value;
    if (reason)
        snprintf(c->reason, sizeof c->reason, "%s", reason);
}

void qb_point_free(qb_point *p)
{
    json_decref(p->entries);
    free(p->counters);
    p->entries = NULL;
    p->counters = NULL;
    p->n_counters = 0;
}

void qb_results_init(qb_results *r, json_t *context)
{
    memset(r, 0, sizeof *r);
    r->context = context ? context : json_object();
}

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void index_put(qb_results *r, int i)
{
    unsigned at = name_hash(r->v[i].name) & (unsigned)(r->n_slots - 1);
    while (r->slots[at])
        at = (at + 1) & (unsigned)(r->n_slots - 1);
    r->slots[at] = i + 1;
}

void qb_results_add(qb_results *r, qb_point *p)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->v = qc_xrealloc(r->v, sizeof *r->v * (size_t)r->cap);
    }
    if (2 * (r->n + 1) > r->n_slots) { /* keep the index at most half full */
        free(r->slots);
        r->n_slots = r->n_slots ? 2 * r->n_slots : 128;
        r->slots = qc_xcalloc((size_t)r->n_slots, sizeof *r->slots);
        for (int i = 0; i < r->n; i++)
            index_put(r, i);
    }
    r->v[r->n++] = *p;
    index_put(r, r->n - 1);
    p->entries = NULL;
    p->counters = NULL;
    p->n_counters = 0;
}

const qb_point *qb_results_find(const qb_results *r, const char *name)
{
    if (!r->n_slots)
        return NULL;
    for (unsigned at = name_hash(name) & (unsigned)(r->n_slots - 1); r->slots[at];
         at = (at + 1) & (unsigned)(r->n_slots - 1))
        if (!strcmp(r->v[r->slots[at] - 1].name, name))
            return &r->v[r->slots[at] - 1];
    return NULL;
}

void qb_results_add_verification(qb_results *r, const qb_verification *v)
{
    for (int i = 0; i < r->n_ver && !v->race; i++)
        if (!strcmp(r->ver[i].winner, v->winner) && !strcmp(r->ver[i].baseline, v->baseline)) {
            r->ver[i] = *v;
            return;
        }
    r->ver = qc_xrealloc(r->ver, sizeof *r->ver * (size_t)(r->n_ver + 1));
    r->ver[r->n_ver++] = *v;
}

void qb_results_free(qb_results *r)
{
    for (int i = 0; i < r->n; i++)
        qb_point_free(&r->v[i]);
    free(r->v);
    free(r->slots);
    free(r->ver);
    json_decref(r->context);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ writing */

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *point_fields(const qb_point *p)
{
    json_t *f = json_object();
    json_object_set_new(f, "point", json_string(p->name));
    json_object_set_new(f, "scheme", json_string(qk_scheme_name(p->p.scheme)));
    json_object_set_new(f, "kernel", json_string(p->kernel));
    json_object_set_new(f, "config", json_string(p->config));
    json_object_set_new(f, "m", json_integer(p->p.m));
    json_object_set_new(f, "n", json_integer(p->p.n));
    json_object_set_new(f, "k", json_integer(p->p.k));
    json_object_set_new(f, "group", json_integer(p->p.group));
    json_object_set_new(f, "asym", json_boolean(p->p.asym));
    json_object_set_new(f, "act", json_string(qk_problem_act_name(&p->p)));
    json_object_set_new(f, "out", json_string(qk_problem_out_name(&p->p)));
    if (p->p.scheme == QK_FP8)
        json_object_set_new(f, "fp8_scale", json_string(p->p.fp8_channel ? "channel" : "tensor"));
    if (p->smooth >= 0)
        json_object_set_new(f, "smooth_alpha", num(p->smooth));
    json_object_set_new(f, "status", json_string(status_names[p->status]));
    json_object_set_new(f, "predicted", json_boolean(p->status == QB_PREDICTED));
    if (p->status == QB_FAILED)
        json_object_set_new(f, "error", json_string(p->error));
    json_object_set_new(f, "bytes", num(p->bytes));
    json_object_set_new(f, "flops", num(p->flops));
    json_object_set_new(f, "intensity", num(p->intensity));
    if (p->status != QB_FAILED) {
        json_object_set_new(f, "time_median_s", num(p->median_s));
        json_object_set_new(f, "time_min_s", num(p->min_s));
        json_object_set_new(f, "time_cv", num(p->cv));
        json_object_set_new(f, "repetitions_run", json_integer(p->repetitions));
        if (p->status == QB_OK) {
            json_object_set_new(f, "timing_rounds", json_integer(p->rounds));
            json_object_set_new(f, "noisy", json_boolean(p->noisy));
            json_t *ph = qb_point_phase(p);
            if (ph)
                json_object_set_new(f, "phase", ph);
        }
        json_object_set_new(f, "iterations_per_repetition", json_integer(p->iterations));
        json_object_set_new(f, "gbs", num(p->gbs));
        json_object_set_new(f, "gflops", num(p->gflops));
    }
    if (p->attainable_gflops > 0) {
        json_object_set_new(f, "ceiling", json_pack("{s:s, s:o, s:o, s:s, s:o}", "bound", p->bound, "gbs",
                                                     num(p->ceiling_gbs), "gops", num(p->ceiling_gops), "format",
                                                     p->format, "attainable_gflops", num(p->attainable_gflops)));
        if (p->status == QB_OK)
            json_object_set_new(f, "pct_of_ceiling", num(p->pct_of_ceiling));
    }
    if (p->kernel_error >= 0)
        json_object_set_new(f, "kernel_error", num(p->kernel_error));
    if (p->quant_error >= 0) {
        json_object_set_new(f, "quant_error", num(p->quant_error));
        json_object_set_new(f, "sqnr_db", num(qb_sqnr_db(p->quant_error)));
    }
    if (p->weight_error >= 0) {
        json_object_set_new(f, "weight_error", num(p->weight_error));
        json_object_set_new(f, "weight_sqnr_db", num(qb_sqnr_db(p->weight_error)));
    }
    if (*p->layer)
        json_object_set_new(f, "layer", json_string(p->layer));
    if (p->checked_rows > 0)
        json_object_set_new(f, "checked", json_pack("{s:i, s:i}", "rows", p->checked_rows, "cols", p->checked_cols));
    json_object_set_new(f, "cache", json_string(p->warm ? "warm" : "cold"));
    if (p->holdout)
        json_object_set_new(f, "holdout", json_true());
    if (p->status == QB_OK) {
        json_object_set_new(f, "cache_mode", json_string(p->cache_mode));
        json_object_set_new(f, "weight_copies", json_integer(p->copies));
    }
    json_t *c = json_object();
    for (int i = 0; i < p->n_counters; i++) {
        const qb_counter *k = &p->counters[i];
        json_object_set_new(c, k->name,
                            k->available ? json_pack("{s:o, s:s}", "value", num(k->value), "source", k->source)
                                         : json_pack("{s:s, s:s}", "unavailable", k->reason, "source", k->source));
    }
    json_object_set_new(f, "counters", c);
    return f;
}

json_t *qb_point_phase(const qb_point *p)
{
    const qk_kernel *k = qk_kernel_find(p->kernel);
    if (!k || qk_kernel_is_cuda(k))
        return NULL;
    json_t *ph = json_pack("{s:o, s:i, s:b}", "waited_s", num(p->phase_waited_s), "redone", p->phase_redone, "usual",
                           !p->phase_unusual);
    const qh_phase_read *r = &p->phase_read;
    if (r->gops > 0)
        json_object_set_new(ph, "read",
                            json_pack("{s:o, s:o, s:o, s:o}", "cores_gops", num(r->gops), "usual_cores_gops",
                                      num(r->usual_gops), "dram_gbs", num(r->gbs), "usual_dram_gbs",
                                      num(r->usual_gbs)));
    return ph;
}

/* The one Google Benchmark entry of a failed or predicted point. */
static json_t *synthetic_entry(const qb_point *p)
{
    double ns = p->status == QB_PREDICTED ? p->median_s * 1e9 : 0;
    json_t *e = json_pack("{s:s, s:i, s:i, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:i, s:f, s:f, s:s}", "name", p->name,
                          "family_index", 0, "per_family_instance_index", 0, "run_name", p->name, "run_type",
                          "aggregate", "repetitions", 0, "repetition_index", 0, "threads", 1, "aggregate_name",
                          "median", "aggregate_unit", "time", "iterations", 0, "real_time", ns, "cpu_time", ns,
                          "time_unit", "ns");
    if (p->status == QB_FAILED) {
        json_object_set_new(e, "error_occurred", json_true());
        json_object_set_new(e, "error_message", json_string(p->error));
    }
    return e;
}

int qb_results_write(const qb_results *r, const char *path, qc_msgs *err)
{
    json_t *doc = json_object(), *list = json_array();
    json_object_set(doc, "context", r->context);
    for (int i = 0; i < r->n; i++) {
        const qb_point *p = &r->v[i];
        json_t *fields = point_fields(p);
        if (p->entries && json_array_size(p->entries)) {
            size_t j;
            json_t *e;
            json_array_foreach(p->entries, j, e)
            {
                json_t *copy = json_deep_copy(e);
                json_object_update(copy, fields);
                json_array_append_new(list, copy);
            }
        } else {
            json_t *e = synthetic_entry(p);
            json_object_update(e, fields);
            json_array_append_new(list, e);
        }
        json_decref(fields);
    }
    json_object_set_new(doc, "benchmarks", list);
    if (r->n_ver) {
        json_t *ver = json_array();
        for (int i = 0; i < r->n_ver; i++) {
            const qb_verification *v = &r->ver[i];
            json_array_append_new(ver, json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:b}", "winner", v->winner,
                                                 "baseline", v->baseline, "kind", v->race ? "race" : "config",
                                                 "pairs", v->pairs, "ratio_lo", num(v->ratio_lo), "ratio",
                                                 num(v->ratio), "ratio_hi", num(v->ratio_hi), "keep", v->keep));
        }
        json_object_set_new(doc, "verification", ver);
    }
    qc_outfile o;
    int rc = qc_outfile_open(&o, path, err);
    if (rc) {
        json_decref(doc);
        return rc;
    }
    if (json_dumpf(doc, o.f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) != 0) {
        qc_msgs_addf(err, "%s: writing the results failed: %s", path, strerror(errno));
        qc_outfile_abort(&o);
        json_decref(doc);
        return QC_ERUNTIME;
    }
    fputc('\n', o.f);
    json_decref(doc);
    return qc_outfile_commit(&o, err);
}

/* ------------------------------------------------------------------ reading */

typedef struct rd {
    const char *path;
    int index;
    const char *name;
    qc_msgs *err;
    int bad;
} rd;

__attribute__((format(printf, 2, 3))) static void bad(rd *c, const char *fmt, ...)
{
    if (c->bad++)
        return; /* the first problem says enough */
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    qc_msgs_addf(c->err, "%s: benchmarks[%d] (%s): %s (the file is not a complete qbench results file; rerun the "
                         "sweep or give another file)", c->path, c->index, c->name ? c->name : "?", what);
}

static const char *get_str(rd *c, json_t *e, const char *key)
{
    json_t *v = json_object_get(e, key);
    if (!json_is_string(v)) {
        bad(c, "'%s' is %s, expected a string", key, v ? "not a string" : "missing");
        return "";
    }
    return json_string_value(v);
}

static double get_num(rd *c, json_t *e, const char *key, int required)
{
    json_t *v = json_object_get(e, key);
    if (!v && !required)
        return -1;
    if (json_is_null(v))
        return NAN;
    if (!json_is_number(v)) {
        bad(c, "'%s' is %s, expected a number", key, v ? "not a number" : "missing");
        return 0;
    }
    return json_number_value(v);
}

static int get_int(rd *c, json_t *e, const char *key, int lo)
{
    json_t *v = json_object_get(e, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > (1 << 30)) {
        bad(c, "'%s' is %s, expected an integer of at least %d", key, v ? "out of range or not an integer" : "missing",
            lo);
        return lo;
    }
    return (int)json_integer_value(v);
}

/* A string that must fit its field: too long is an error, never cut short. */
static void copy_str(rd *c, json_t *e, const char *key, char *dst, size_t cap)
{
    const char *v = get_str(c, e, key);
    if (strlen(v) >= cap)
        bad(c, "'%s' is %zu characters long; qbench's limit is %zu", key, strlen(v), cap - 1);
    snprintf(dst, cap, "%s", v);
}

static void read_point(rd *c, json_t *e, qb_point *p)
{
    memset(p, 0, sizeof *p);
    if (strlen(c->name) >= sizeof p->name)
        bad(c, "'point' is %zu characters long; qbench's limit is %zu", strlen(c->name), sizeof p->name - 1);
    snprintf(p->name, sizeof p->name, "%s", c->name);
    const char *scheme = get_str(c, e, "scheme");
    if (!c->bad && qk_scheme_parse(scheme, &p->p.scheme))
        bad(c, "unknown scheme '%s'", scheme);
    copy_str(c, e, "kernel", p->kernel, sizeof p->kernel);
    copy_str(c, e, "config", p->config, sizeof p->config);
    p->p.m = get_int(c, e, "m", 1);
    p->p.n = get_int(c, e, "n", 1);
    p->p.k = get_int(c, e, "k", 1);
    p->p.group = get_int(c, e, "group", -1);
    p->p.asym = json_is_true(json_object_get(e, "asym"));
    p->p.out_f32 = !strcmp(get_str(c, e, "out"), "f32");
    json_t *act = json_object_get(e, "act"); /* absent before bf16: fp16 */
    if (act && (!json_is_string(act) || (strcmp(json_string_value(act), "fp16") && strcmp(json_string_value(act), "bf16"))))
        bad(c, "'act' must be \"fp16\" or \"bf16\"");
    p->p.act_bf16 = p->p.scheme == QK_BF16 || (p->p.scheme != QK_FP16 && act && json_is_string(act) &&
                                               !strcmp(json_string_value(act), "bf16"));
    json_t *fs = json_object_get(e, "fp8_scale");
    p->p.fp8_channel = p->p.scheme == QK_FP8 && json_is_string(fs) && !strcmp(json_string_value(fs), "channel");
    p->smooth = json_is_number(json_object_get(e, "smooth_alpha")) ? json_number_value(json_object_get(e, "smooth_alpha"))
                                                                    : -1;
    const char *status = get_str(c, e, "status");
    p->status = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(status, status_names[i]))
            p->status = i;
    if (p->status < 0) {
        bad(c, "'status' is '%s', expected ok, failed or predicted", status);
        p->status = QB_FAILED;
    }
    if (p->status == QB_FAILED)
        snprintf(p->error, sizeof p->error, "%s", get_str(c, e, "error"));
    p->bytes = get_num(c, e, "bytes", 1);
    p->flops = get_num(c, e, "flops", 1);
    p->intensity = get_num(c, e, "intensity", 1);
    if (p->status != QB_FAILED) {
        p->median_s = get_num(c, e, "time_median_s", 1);
        p->min_s = get_num(c, e, "time_min_s", 1);
        p->cv = get_num(c, e, "time_cv", 1);
        p->repetitions = get_int(c, e, "repetitions_run", 0);
        /* written since the noise rounds; an older file's points had one round */
        p->rounds = json_object_get(e, "timing_rounds") ? get_int(c, e, "timing_rounds", 1) : p->status == QB_OK;
        json_t *noisy = json_object_get(e, "noisy");
        if (noisy && !json_is_boolean(noisy))
            bad(c, "'noisy' must be true or false");
        p->noisy = json_is_true(noisy);
        json_t *ph = json_object_get(e, "phase"); /* written since the phase guard; CPU points only */
        if (ph) {
            json_t *w = json_object_get(ph, "waited_s"), *r = json_object_get(ph, "redone"),
                   *u = json_object_get(ph, "usual");
            if (!json_is_object(ph) || !json_is_number(w) || !(json_number_value(w) >= 0) || !json_is_integer(r) ||
                json_integer_value(r) < 0 || !json_is_boolean(u))
                bad(c, "'phase' must be {\"waited_s\": seconds, \"redone\": count, \"usual\": true|false}");
            else
                p->phase_waited_s = json_number_value(w), p->phase_redone = (int)json_integer_value(r),
                p->phase_unusual = !json_is_true(u);
            json_t *rd = json_object_get(ph, "read"); /* written since the sentinel's reads are kept */
            if (rd) {
                qh_phase_read v;
                double *to[4] = {&v.gops, &v.usual_gops, &v.gbs, &v.usual_gbs};
                const char *key[4] = {"cores_gops", "usual_cores_gops", "dram_gbs", "usual_dram_gbs"};
                int ok = json_is_object(rd);
                for (int i = 0; ok && i < 4; i++) {
                    json_t *x = json_object_get(rd, key[i]);
                    ok = json_is_number(x) && (*to[i] = json_number_value(x)) > 0;
                }
                if (!ok)
                    bad(c, "'phase.read' must be {\"cores_gops\", \"usual_cores_gops\", \"dram_gbs\", "
                           "\"usual_dram_gbs\"}, each a positive rate");
                else
                    p->phase_read = v;
            }
        }
        json_t *it = json_object_get(e, "iterations_per_repetition");
        p->iterations = json_is_integer(it) ? json_integer_value(it) : 0;
        p->gbs = get_num(c, e, "gbs", 1);
        p->gflops = get_num(c, e, "gflops", 1);
        if (!c->bad && !(p->median_s > 0))
            bad(c, "'time_median_s' must be a positive number of seconds");
    }
    json_t *ceil = json_object_get(e, "ceiling");
    if (ceil) {
        snprintf(p->bound, sizeof p->bound, "%s", get_str(c, ceil, "bound"));
        json_t *fmt = json_object_get(ceil, "format");
        snprintf(p->format, sizeof p->format, "%s", json_is_string(fmt) ? json_string_value(fmt) : "");
        p->ceiling_gbs = get_num(c, ceil, "gbs", 1);
        p->ceiling_gops = get_num(c, ceil, "gops", 1);
        p->attainable_gflops = get_num(c, ceil, "attainable_gflops", 1);
        p->pct_of_ceiling = get_num(c, e, "pct_of_ceiling", 0);
    }
    p->kernel_error = get_num(c, e, "kernel_error", 0);
    p->quant_error = get_num(c, e, "quant_error", 0);
    p->weight_error = get_num(c, e, "weight_error", 0);
    json_t *layer = json_object_get(e, "layer");
    if (layer && (!json_is_string(layer) || json_string_length(layer) >= sizeof p->layer || !json_string_length(layer)))
        bad(c, "'layer' must be a layer's name (1 to %zu characters)", sizeof p->layer - 1);
    else if (layer)
        snprintf(p->layer, sizeof p->layer, "%s", json_string_value(layer));
    json_t *chk = json_object_get(e, "checked");
    if (chk) {
        p->checked_rows = get_int(c, chk, "rows", 1);
        p->checked_cols = get_int(c, chk, "cols", 1);
    }
    if (json_object_get(e, "cache")) { /* written since --cache; before, every point was asked cold */
        const char *asked = get_str(c, e, "cache");
        if (!c->bad && strcmp(asked, "cold") && strcmp(asked, "warm"))
            bad(c, "'cache' is '%s', expected cold or warm", asked);
        p->warm = !strcmp(asked, "warm");
    }
    json_t *hold = json_object_get(e, "holdout");
    if (hold && !json_is_boolean(hold))
        bad(c, "'holdout' must be true or false");
    p->holdout = json_is_true(hold);
    if (p->status == QB_OK) {
        const char *mode = get_str(c, e, "cache_mode");
        if (!c->bad && strcmp(mode, "cold") && strcmp(mode, "warm") && strcmp(mode, "l2-flush"))
            bad(c, "'cache_mode' is '%s', expected cold, warm or l2-flush", mode);
        snprintf(p->cache_mode, sizeof p->cache_mode, "%s", mode);
        p->copies = get_int(c, e, "weight_copies", 1);
    }
    /* what the fields say must be possible: a kernel of this qbench, computing this scheme, on
     * a problem qbench accepts; and the point's name is made of them */
    const qk_kernel *k = c->bad ? NULL : qk_kernel_find(p->kernel);
    qc_msgs why = {0};
    if (!c->bad && !k)
        bad(c, "kernel '%s' is not one of this qbench's (results of another version? see 'qbench kernels')",
            p->kernel);
    else if (!c->bad && k->scheme != p->p.scheme)
        bad(c, "kernel %s computes %s, not %s", k->name, qk_scheme_name(k->scheme), qk_scheme_name(p->p.scheme));
    else if (!c->bad && qk_problem_check(&p->p, &why))
        bad(c, "%s", why.v[0]);
    qc_msgs_free(&why);
    if (!c->bad) {
        qb_point q = *p;
        qb_point_name(&q);
        if (strcmp(q.name, p->name))
            bad(c, "'point' is %s, but its fields make %s", p->name, q.name);
    }
    json_t *counters = json_object_get(e, "counters");
    if (counters && !json_is_object(counters))
        bad(c, "'counters' must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(counters, key, v)
    {
        json_t *un = json_object_get(v, "unavailable");
        const char *source = get_str(c, v, "source");
        if (un)
            qb_point_add_counter(p, key, source, 0, json_string_value(un) ? json_string_value(un) : "");
        else
            qb_point_add_counter(p, key, source, get_num(c, v, "value", 1), NULL);
    }
}

size_t qb_results_max_bytes(void)
{
    int mb;
    const char *env = getenv("QBENCH_RESULTS_MAX_MB");
    if (env && qc_parse_int(env, 1, 1 << 20, "QBENCH_RESULTS_MAX_MB", &mb, NULL) == QC_OK)
        return (size_t)mb << 20;
    return (size_t)1 << 30;
}

int qb_results_read(const char *path, qb_results *r, qc_msgs *err)
{
    memset(r, 0, sizeof *r);
    char *text;
    size_t len;
    int rc = qc_read_file(path, qb_results_max_bytes(), "a results file (raise QBENCH_RESULTS_MAX_MB for a larger one)",
                          &text, &len, err);
    if (rc)
        return rc;
    rc = qb_results_parse(text, len, path, r, err);
    free(text);
    return rc;
}

/* Do two entries of one point say the same point? */
static int same_point(const qb_point *a, const qb_point *b)
{
    return !memcmp(&a->p, &b->p, sizeof a->p) && !strcmp(a->kernel, b->kernel) && !strcmp(a->config, b->config) &&
           a->status == b->status && (a->median_s == b->median_s || (isnan(a->median_s) && isnan(b->median_s))) &&
           a->smooth == b->smooth;
}

int qb_results_parse(const char *text, size_t len, const char *path, qb_results *r, qc_msgs *err)
{
    memset(r, 0, sizeof *r);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        if (je.line <= 0)
            qc_msgs_addf(err, "%s: %s (check the path)", path, je.text);
        else
            qc_msgs_addf(err, "%s:%d:%d: not valid JSON: %s (a truncated or corrupt file; qbench never leaves one, so "
                              "it was written or cut by something else)", path, je.line, je.column, je.text);
        return QC_EINPUT;
    }
    json_t *context = json_object_get(doc, "context"), *list = json_object_get(doc, "benchmarks");
    if (!json_is_object(doc) || !json_is_object(context) || !json_is_array(list)) {
        qc_msgs_addf(err, "%s: not a results file: it needs a 'context' object and a 'benchmarks' list", path);
        json_decref(doc);
        return QC_EINPUT;
    }
    if (!json_is_object(json_object_get(context, "qbench"))) {
        qc_msgs_addf(err, "%s: not a qbench results file: its context has no 'qbench' section (a plain Google "
                          "Benchmark file?)", path);
        json_decref(doc);
        return QC_EINPUT;
    }
    qb_results_init(r, json_incref(context));
    rd c = {.path = path, .err = err};
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        c.index = (int)i;
        /* Google Benchmark names its entries "<name>/min_time:.../real_time[_median]"; the point
         * they belong to is the "point" field */
        c.name = json_string_value(json_object_get(e, "point"));
        if (!json_is_object(e) || !c.name) {
            c.name = json_string_value(json_object_get(e, "name"));
            bad(&c, "an entry without a 'point' (not written by qbench)");
            break;
        }
        qb_point *prev = (qb_point *)qb_results_find(r, c.name);
        qb_point p;
        read_point(&c, e, &p);
        if (!c.bad && prev && prev != &r->v[r->n - 1])
            bad(&c, "point %s appears again after other points (each point's entries stand together)", c.name);
        if (!c.bad && prev && !same_point(prev, &p))
            bad(&c, "an entry of point %s that disagrees with its first entry (m, n, k, kernel, configuration, "
                    "status or median time)", c.name);
        if (c.bad || prev) {
            qb_point_free(&p);
            if (c.bad)
                break;
            json_array_append(prev->entries, e); /* another repetition or aggregate of the same point */
            continue;
        }
        int synthetic = !json_is_integer(json_object_get(e, "iterations")) ||
                        json_integer_value(json_object_get(e, "iterations")) == 0;
        p.entries = json_array();
        if (!(synthetic && p.status != QB_OK))
            json_array_append(p.entries, e);
        qb_results_add(r, &p);
    }
    json_t *ver = json_object_get(doc, "verification");
    if (!c.bad && ver && !json_is_array(ver)) {
        qc_msgs_addf(err, "%s: 'verification' must be a list", path);
        c.bad = 1;
    }
    json_array_foreach(ver, i, e)
    {
        if (c.bad)
            break;
        qb_verification v = {0};
        const char *w = json_string_value(json_object_get(e, "winner")),
                   *b = json_string_value(json_object_get(e, "baseline"));
        json_t *pairs = json_object_get(e, "pairs"), *keep = json_object_get(e, "keep"),
               *kind = json_object_get(e, "kind"), *lo = json_object_get(e, "ratio_lo");
        v.ratio = json_number_value(json_object_get(e, "ratio"));
        v.ratio_hi = json_number_value(json_object_get(e, "ratio_hi"));
        v.ratio_lo = lo ? json_number_value(lo) : v.ratio; /* files before races had no ratio_lo */
        v.race = json_is_string(kind) && !strcmp(json_string_value(kind), "race");
        if (!w || !b || !qb_results_find(r, w) || !qb_results_find(r, b) || !json_is_integer(pairs) ||
            json_integer_value(pairs) < 1 || json_integer_value(pairs) > 1000000 || !json_is_boolean(keep) ||
            !(v.ratio_lo > 0) || !(v.ratio >= v.ratio_lo) || !(v.ratio_hi >= v.ratio) ||
            (kind && (!json_is_string(kind) || (!v.race && strcmp(json_string_value(kind), "config"))))) {
            qc_msgs_addf(err, "%s: verification[%zu] needs a winner and a baseline that are points of the file, kind "
                              "(config or race), pairs (a positive count), 0 < ratio_lo <= ratio <= ratio_hi and keep "
                              "(true or false)", path, i);
            c.bad = 1;
            break;
        }
        snprintf(v.winner, sizeof v.winner, "%s", w);
        snprintf(v.baseline, sizeof v.baseline, "%s", b);
        v.pairs = (int)json_integer_value(pairs);
        v.keep = json_is_true(keep);
        qb_results_add_verification(r, &v);
    }
    json_decref(doc);
    if (c.bad) {
        qb_results_free(r);
        return QC_EINPUT;
    }
    return QC_OK;
}

/* ------------------------------------------------------------------ merging */

static const char *ctx_str(const qb_results *r, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(r->context, "qbench"), key));
    return v ? v : "";
}

static const char *cache_of(const qb_results *r)
{
    return r->n ? (r->v[0].warm ? "warm" : "cold") : "";
}

/* the first field in which b cannot join a, or NULL */
static const char *clash(const qb_results *a, const qb_results *b, char *av, char *bv, size_t len)
{
    static const char *const keys[] = {"version", "device_name", "profile"};
    for (int i = 0; i < 3; i++) {
        const char *x = ctx_str(a, keys[i]), *y = ctx_str(b, keys[i]);
        if (i == 1 && (!*x || !*y)) /* files from before device_name: the profile says the device */
            continue;
        if (strcmp(x, y)) {
            snprintf(av, len, "%s", x);
            snprintf(bv, len, "%s", y);
            return keys[i];
        }
    }
    json_t *pa = json_object_get(json_object_get(a->context, "qbench"), "predicted"),
           *pb = json_object_get(json_object_get(b->context, "qbench"), "predicted");
    if (json_is_true(pa) != json_is_true(pb)) {
        snprintf(av, len, "%s", json_is_true(pa) ? "predicted" : "measured");
        snprintf(bv, len, "%s", json_is_true(pb) ? "predicted" : "measured");
        return "predicted";
    }
    if (*cache_of(a) && *cache_of(b) && strcmp(cache_of(a), cache_of(b))) {
        snprintf(av, len, "%s", cache_of(a));
        snprintf(bv, len, "%s", cache_of(b));
        return "cache mode";
    }
    return NULL;
}

/* a point that is already there: dropped, kept, or put in its place (returns 1) */
static int merge_point(qb_point *have, qb_point *p, const char *have_file, const char *file, qb_merge_stats *st,
                        qc_msgs *notes)
{
    const int same_entries = json_equal(have->entries, p->entries) && same_point(have, p) &&
                             !strcmp(have->error, p->error);
    if (same_entries) {
        st->duplicates++;
        qb_point_free(p);
        return 0;
    }
    st->twice++;
    int take;
    if (have->status == QB_FAILED || p->status == QB_FAILED) { /* a failed check always stands */
        take = have->status != QB_FAILED;
        if (have->status != p->status)
            qc_msgs_addf(notes, "%s failed its check in %s and not in %s: the failure stands", p->name,
                         take ? file : have_file, take ? have_file : file);
    } else {
        take = p->cv < have->cv;
        const double sa = have->cv * have->median_s, sb = p->cv * p->median_s;
        if (fabs(have->median_s - p->median_s) > 2 * sqrt(sa * sa + sb * sb)) {
            st->disagree++;
            qc_msgs_addf(notes, "%s: %.4g ms (cv %.1f%%) in %s, %.4g ms (cv %.1f%%) in %s: apart beyond their noise; "
                                "kept %s's (the lower cv)", p->name, have->median_s * 1e3, 100 * have->cv, have_file,
                         p->median_s * 1e3, 100 * p->cv, file, take ? file : have_file);
        }
    }
    if (take) {
        qb_point_free(have);
        *have = *p; /* same name: the index still holds */
    } else {
        qb_point_free(p);
    }
    return take;
}

int qb_results_merge(const char *const *paths, int n, int force, qb_results *out, qb_merge_stats *st, qc_msgs *notes,
                     qc_msgs *err)
{
    memset(st, 0, sizeof *st);
    memset(out, 0, sizeof *out);
    typedef struct plan {
        char hash[64];
        int count;
        int *seen;     /* per shard index: the file that holds it + 1 */
        int first;     /* its first file */
    } plan;
    plan *plans = NULL;
    int n_plans = 0, rc = QC_OK;
    int *src = NULL; /* per merged point: the file its measurement came from */
    json_t *from = json_array();
    for (int f = 0; f < n && !rc; f++) {
        qb_results r;
        if ((rc = qb_results_read(paths[f], &r, err)))
            break;
        char av[256], bv[256];
        const char *what = f ? clash(out, &r, av, bv, sizeof av) : NULL;
        if (what && !force) {
            qc_msgs_addf(err, "%s and %s differ in %s: %s and %s (merge results of one device, profile, qbench "
                              "version and cache mode; --force merges them anyway)", paths[0], paths[f], what, av, bv);
            qb_results_free(&r);
            rc = QC_EINPUT;
            break;
        }
        json_t *sh = json_object_get(json_object_get(r.context, "qbench"), "shard");
        if (sh) {
            const char *h = json_string_value(json_object_get(sh, "plan"));
            json_int_t idx = json_integer_value(json_object_get(sh, "index")),
                       cnt = json_integer_value(json_object_get(sh, "count"));
            if (!h || cnt < 1 || cnt > 4096 || idx < 0 || idx >= cnt) {
                qc_msgs_addf(err, "%s: its context.qbench.shard needs plan, count (1 to 4096) and index (0 to count "
                                  "- 1)", paths[f]);
                qb_results_free(&r);
                rc = QC_EINPUT;
                break;
            }
            int pi = 0;
            while (pi < n_plans && strcmp(plans[pi].hash, h))
                pi++;
            if (pi == n_plans) {
                plans = qc_xrealloc(plans, sizeof *plans * (size_t)(n_plans + 1));
                plans[n_plans] = (plan){.count = (int)cnt, .seen = qc_xcalloc((size_t)cnt, sizeof(int)), .first = f};
                snprintf(plans[n_plans++].hash, sizeof plans->hash, "%s", h);
            }
            if (plans[pi].count != cnt) {
                qc_msgs_addf(err, "%s: shard of plan %s says %d shards, %s says %d", paths[f], h, (int)cnt,
                             paths[plans[pi].first], plans[pi].count);
                qb_results_free(&r);
                rc = QC_EINPUT;
                break;
            }
            if (plans[pi].seen[idx])
                qc_msgs_addf(notes, "%s and %s are both shard %d of %d of plan %s", paths[plans[pi].seen[idx] - 1],
                             paths[f], (int)idx, (int)cnt, h);
            else
                plans[pi].seen[idx] = f + 1;
        }
        const char *host = json_string_value(json_object_get(r.context, "host_name"));
        json_array_append_new(from, json_pack("{s:s, s:s, s:O, s:i}", "file", paths[f], "host_name", host ? host : "",
                                              "shard", sh ? sh : json_null(), "points", r.n));
        if (!f) {
            qb_results_init(out, json_deep_copy(r.context));
            json_object_del(json_object_get(out->context, "qbench"), "shard");
        }
        for (int i = 0; i < r.n; i++) {
            qb_point *have = (qb_point *)qb_results_find(out, r.v[i].name);
            if (!have) {
                qb_results_add(out, &r.v[i]);
                src = qc_xrealloc(src, sizeof *src * (size_t)out->n);
                src[out->n - 1] = f;
                continue;
            }
            const int at = (int)(have - out->v);
            if (merge_point(have, &r.v[i], paths[src[at]], paths[f], st, notes))
                src[at] = f;
            memset(&r.v[i], 0, sizeof r.v[i]);
        }
        for (int i = 0; i < r.n_ver; i++)
            qb_results_add_verification(out, &r.ver[i]);
        st->files++;
        qb_results_free(&r);
    }
    if (!rc && n_plans > 1 && !force) {
        qc_msgs_addf(err, "%s and %s are shards of two different plans (%s, %s): the axes, the profile or the shard "
                          "count differed (merge the shards of one sweep; --force merges them anyway)",
                     paths[plans[0].first], paths[plans[1].first], plans[0].hash, plans[1].hash);
        rc = QC_EINPUT;
    }
    for (int pi = 0; !rc && pi < n_plans; pi++) {
        char missing[256] = "";
        int n_missing = 0;
        for (int i = 0; i < plans[pi].count; i++)
            if (!plans[pi].seen[i] && n_missing++ < 8)
                snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%d", n_missing > 1 ? ", " : "",
                         i);
        if (n_missing && !force) {
            qc_msgs_addf(err, "plan %s has %d shards and %d of them %s missing (%s%s): merge every shard's results, or "
                              "--force to merge what is here", plans[pi].hash, plans[pi].count, n_missing,
                         n_missing == 1 ? "is" : "are", missing, n_missing > 8 ? ", ..." : "");
            rc = QC_EINPUT;
        } else if (n_missing) {
            qc_msgs_addf(notes, "plan %s: %d of its %d shards missing (%s%s); merged anyway (--force)", plans[pi].hash,
                         n_missing, plans[pi].count, missing, n_missing > 8 ? ", ..." : "");
        }
    }
    for (int pi = 0; pi < n_plans; pi++)
        free(plans[pi].seen);
    free(plans);
    free(src);
    if (rc) {
        json_decref(from);
        qb_results_free(out);
        return rc;
    }
    if (!out->context)
        qb_results_init(out, json_object());
    json_object_set_new(json_object_get(out->context, "qbench"), "merged_from", from);
    st->points = out->n;
    return QC_OK;
}
