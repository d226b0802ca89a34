/* The one way a point is measured, in a sweep or alone (`qbench run`):
 *  1. data: LLM-like weights for (scheme, shape, options), quantized and packed as the kernel
 *     wants, and copied enough times to exceed the last-level cache 8× (cold weights; on a
 *     GPU the L2 is flushed instead), or one copy left in the caches (warm); activations for
 *     M. A session keeps the weights for the next point that shares them.
 *  2. check: one call, compared on a sample (8 rows × 256 channels, always the last panel; or
 *     everything with full_check) against the fp64 reference on the dequantized operands (the
 *     kernel's error, which must be within qk_error_limit) and on the original operands (what
 *     the scheme costs). A wrong result is recorded and not timed.
 *  3. time: Google Benchmark through cbench (on a GPU, CUDA events as manual time), rotating
 *     among the copies; rounds of repetitions until one's cv is within max_cv or the point's
 *     budget is spent (then it is marked noisy). On the CPU, in the machine's usual phase: a
 *     sentinel (hardware/ceilings.h) is read before and after, and timing that a slow or fast
 *     phase of a shared machine reached is done again (the point says so).
 *  4. count: PAPI's counters (CUPTI's on a GPU), each unavailable one with its reason, beside
 *     the cost model's bytes.
 *  5. place: the roof of the kernel's number format (tuner/roofline.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/cbench.h"
#include "bench/gpu.h"
#include "bench/sweep.h"
#include "hardware/ceilings.h"
#include "hardware/counters.h"
#include "hardware/hardware.h"
#include "tuner/roofline.h"

enum { CHECK_ROWS = 8, CHECK_COLS = 256, MAX_COPIES = 512 };

/* The weights of a point, reusable by the next point with the same key. */
typedef struct dataset {
    int valid;
    qk_problem key;      /* M counts only with SmoothQuant (it scales W by X's columns) */
    double smooth;
    qk_packing packing;
    int warm;            /* one copy, left in the caches; else enough copies to be cold */
    int layer;           /* the model's layer the weights are (−1: synthetic) */
    double weight_error; /* ‖W − dequantized W‖ / ‖W‖ */
    qk_weights *copies;
    int n_copies;
    int *cols, n_cols;   /* the checked output channels */
    float *wd_cols;      /* their dequantized weights [n_cols][K] */
    float *w_cols;       /* their original weights [n_cols][K] */
    uint16_t *x;         /* activations of the key's M when smoothed (the smoothed ones), else NULL */
    float *x32;          /* the original activations as fp32 (smoothed sets) */
} dataset;

enum { PHASE_THREADS = 8, PAIR_PLACEMENTS = 3 };

struct qb_bench {
    qb_measure_opts o;
    double llc;          /* bytes of last-level cache */
    dataset d;
    dataset other;       /* the second side of an interleaved pair of two weight sets */
    qh_sentinel *phase[PHASE_THREADS]; /* the machine's phase, one sentinel per thread count */
    int phase_threads[PHASE_THREADS], n_phases;
    double created, guard_s;           /* when the session began; what the phase guard spent */
};

static void dataset_free(dataset *d)
{
    for (int i = 0; i < d->n_copies; i++)
        qk_weights_free(&d->copies[i]);
    free(d->copies);
    free(d->cols);
    free(d->wd_cols);
    free(d->w_cols);
    free(d->x);
    free(d->x32);
    memset(d, 0, sizeof *d);
}

qb_bench *qb_bench_create(const qb_measure_opts *o)
{
    qb_bench *b = qc_xcalloc(1, sizeof *b);
    b->o = *o;
    b->created = qc_now();
    qh_host h;
    if (qh_host_discover(&h, NULL) == QC_OK)
        b->llc = qh_host_llc_bytes(&h);
    if (!(b->llc > 0))
        b->llc = 32.0 * 1024 * 1024;
    return b;
}

void qb_bench_destroy(qb_bench *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n_phases; i++)
        qh_sentinel_free(b->phase[i]);
    dataset_free(&b->d);
    dataset_free(&b->other);
    free(b);
}

static uint64_t weight_seed(const qk_problem *p, uint64_t seed)
{
    return (uint64_t)p->n * 7919 + (uint64_t)p->k + seed * 0x9e3779b97f4a7c15ull;
}

static uint64_t act_seed(const qk_problem *p, uint64_t seed)
{
    return (uint64_t)p->m * 31 + (uint64_t)p->k + seed * 0xbf58476d1ce4e5b9ull;
}

static int same_data(const dataset *d, const qb_task *t)
{
    const qk_problem *a = &d->key, *b = &t->p;
    return d->valid && d->warm == t->point.warm && a->scheme == b->scheme && a->n == b->n &&
           a->k == b->k && a->group == b->group &&
           a->asym == b->asym && a->fp8_channel == b->fp8_channel && a->act_bf16 == b->act_bf16 && d->smooth == t->smooth &&
           (t->smooth < 0 || a->m == b->m) && d->layer == t->layer && d->packing.layout == t->kernel->packing.layout &&
           d->packing.nr == t->kernel->packing.nr;
}

/* X for p: captured activations of width K when --acts has them, else LLM-like synthetic ones;
 * as the problem's 16-bit type (fp16 or bf16) and as fp32 of those same values (x32 may be NULL). */
static void activations(const qb_bench *b, const qk_problem *p, uint16_t *x, float *x32)
{
    const size_t mk = (size_t)p->m * p->k;
    const int bf16 = qk_problem_bf16(p);
    float *f = b->o.acts ? (x32 ? x32 : malloc(mk * 4)) : NULL;
    if (f && qm_acts_rows(b->o.acts, p->k, p->m, f)) {
        for (size_t i = 0; i < mk; i++) {
            x[i] = qk_float_to_x16(bf16, f[i]);
            f[i] = qk_x16_to_float(bf16, x[i]);
        }
    } else {
        qk_fill_activations(x, x32, p->m, p->k, bf16, act_seed(p, b->o.seed));
    }
    if (f != x32)
        free(f);
}

static double avail_bytes(void)
{
    return (double)sysconf(_SC_AVPHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
}

/* Generates, quantizes, packs and copies the weights of t into d (smoothed with t's activations
 * when SmoothQuant is on). */
static int dataset_prepare(qb_bench *b, dataset *d, const qb_task *t, qc_msgs *err)
{
    dataset_free(d);
    const qk_problem *p = &t->p;
    const int cuda = qk_kernel_is_cuda(t->kernel), full = b->o.full_check;
    size_t nk = (size_t)p->n * p->k, mk = (size_t)p->m * p->k;
    float *w = malloc(nk * 4), *wd = malloc(nk * 4);
    d->n_cols = full || p->n < CHECK_COLS ? p->n : CHECK_COLS;
    d->cols = malloc(sizeof(int) * (size_t)d->n_cols);
    d->wd_cols = malloc((size_t)d->n_cols * p->k * 4);
    d->w_cols = malloc((size_t)d->n_cols * p->k * 4);
    int rc = QC_OK;
    if (!w || !wd || !d->cols || !d->wd_cols || !d->w_cols) {
        qc_msgs_addf(err, "out of memory for %d x %d weights", p->n, p->k);
        rc = QC_ERUNTIME;
        goto done;
    }
    const qm_model *model = b->o.model;
    if (t->layer >= 0 && model && qm_model_has_weights(model)) {
        if ((rc = qm_model_weights(model, t->layer, 0, w, err)))
            goto done;
    } else {
        qk_fill_weights(w, nk, weight_seed(p, b->o.seed));
    }
    /* the sampled channels: spread over N, always including the last (the padded panel) */
    for (int i = 0; i < d->n_cols; i++)
        d->cols[i] = d->n_cols == p->n ? i : (int)((long)i * (p->n - 1) / (d->n_cols - 1));
    for (int i = 0; i < d->n_cols; i++)
        memcpy(d->w_cols + (size_t)i * p->k, w + (size_t)d->cols[i] * p->k, (size_t)p->k * 4);
    if (t->smooth >= 0) { /* SmoothQuant needs this M's activations: they belong to the set */
        d->x = malloc(mk * 2);
        d->x32 = malloc(mk * 4);
        if (!d->x || !d->x32) {
            qc_msgs_addf(err, "out of memory for the activations");
            rc = QC_ERUNTIME;
            goto done;
        }
        activations(b, p, d->x, d->x32);
        qk_smooth(p->m, p->n, p->k, (float)t->smooth, qk_problem_bf16(p), d->x, w);
    }
    qk_weights first;
    if ((rc = qk_weights_pack(&t->kernel->packing, p, w, &first, err)))
        goto done;
    qk_weights_dequant(&first, wd);
    double ss = 0, se = 0;
    for (size_t i = 0; i < nk; i++) {
        double e = (double)w[i] - wd[i];
        ss += (double)w[i] * w[i];
        se += e * e;
    }
    d->weight_error = ss > 0 ? sqrt(se / ss) : 0;
    for (int i = 0; i < d->n_cols; i++)
        memcpy(d->wd_cols + (size_t)i * p->k, wd + (size_t)d->cols[i] * p->k, (size_t)p->k * 4);
    /* cold: copies covering 8× the last-level cache, within a quarter of free memory; warm: one */
    const int warm = t->point.warm;
    int want = cuda || warm ? 1 : (int)ceil(8 * b->llc / (double)first.bytes);
    int fit = (int)(0.25 * avail_bytes() / (double)first.bytes);
    d->n_copies = want < 1 ? 1 : want > MAX_COPIES ? MAX_COPIES : want;
    if (d->n_copies > fit)
        d->n_copies = fit > 1 ? fit : 1;
    d->copies = qc_xcalloc((size_t)d->n_copies, sizeof *d->copies);
    d->copies[0] = first;
    for (int c = 1; c < d->n_copies; c++)
        if ((rc = qk_weights_copy(&first, &d->copies[c], err))) {
            d->n_copies = c;
            goto done;
        }
    d->key = *p;
    d->smooth = t->smooth;
    d->packing = t->kernel->packing;
    d->warm = warm;
    d->layer = t->layer;
    d->valid = 1;
done:
    free(w);
    free(wd);
    if (rc)
        dataset_free(d);
    return rc;
}

/* Bytes this point needs besides the weight copies: what refusing it early is based on. */
static double bytes_needed(const qb_task *t, int full)
{
    const qk_problem *p = &t->p;
    double nk = (double)p->n * p->k, mk = (double)p->m * p->k, mn = (double)p->m * p->n;
    double rows = full ? p->m : fmin(p->m, CHECK_ROWS), cols = full ? p->n : fmin(p->n, CHECK_COLS);
    double ws = qk_kernel_is_cuda(t->kernel) ? 0 : (double)qk_kernel_workspace(t->kernel, p, &t->cfg);
    return 8 * nk + qk_problem_cost(p).weight_bytes + 10 * mk + 4 * mn + 16 * rows * cols + 8 * rows * p->k + ws;
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

static void fail(qb_point *pt, const qc_msgs *why, const char *fallback)
{
    pt->status = QB_FAILED;
    snprintf(pt->error, sizeof pt->error, "%s", why->n ? why->v[why->n - 1] : fallback);
}

/* The roof of the point's kernel: where it sits, and the share of what it can attain. */
static void place(qb_point *pt, const qp_profile *prof, const qb_task *t)
{
    qt_roof r;
    if (!prof || !qt_roof_of(prof, t->kernel, &t->cfg, &r))
        return;
    pt->ceiling_gbs = r.model.bw_gbs;
    pt->ceiling_gops = r.model.peak_gops;
    snprintf(pt->format, sizeof pt->format, "%s", r.format);
    snprintf(pt->bound, sizeof pt->bound, "%s", qt_place(&r, pt->bytes, pt->flops, &pt->attainable_gflops));
    if (pt->status == QB_OK)
        pt->pct_of_ceiling = 100 * pt->gflops / pt->attainable_gflops;
}

static int predict(qb_bench *b, const qb_task *t, qb_point *pt)
{
    const qp_profile *prof = b->o.profile;
    qt_model m;
    char basis[128];
    int ok = qt_model_of(prof, NULL, t->kernel, &t->cfg, &m, basis, sizeof basis);
    double ts = ok ? qt_predict(&m, pt->bytes, pt->flops, t->p.m) : 0;
    if (ts > 0) {
        pt->status = QB_PREDICTED;
        pt->median_s = pt->min_s = ts;
        pt->gbs = pt->bytes / ts / 1e9;
        pt->gflops = pt->flops / ts / 1e9;
    } else {
        pt->status = QB_FAILED;
        snprintf(pt->error, sizeof pt->error, "profile %s has no %s ceiling for %s (the device has no such path, or "
                 "the figure is missing)", prof->name, m.bw_gbs > 0 ? "compute" : "bandwidth",
                 qk_scheme_name(t->p.scheme));
    }
    place(pt, prof, t);
    qb_point_add_counter(pt, "bytes_moved", "model", pt->bytes, NULL);
    return QC_OK;
}

/* ------------------------------------------------------------------ the machine's phase */

/* What the phase guard may still spend on waiting and timing again: a fifth of the session's
 * time so far, and 2 s. On a machine that is seldom in its usual phase, the rest of the points
 * are timed as it is, and say so. */
static double guard_left(const qb_bench *b) { return 0.2 * (qc_now() - b->created) + 2.0 - b->guard_s; }

/* Waits up to max_s (within what the guard has left) for the usual phase: the seconds spent
 * (*usual 0 when it did not come). */
static double phase_wait(qb_bench *b, qh_sentinel *ph, double max_s, int *usual)
{
    const double t0 = qc_now(), left = guard_left(b);
    *usual = left > 0 ? qh_sentinel_wait(ph, fmin(max_s, left)) >= 0 : 1;
    const double spent = qc_now() - t0;
    b->guard_s += spent;
    return spent;
}

/* The sentinel of a kernel's thread count, made on first use; NULL where none can run. */
static qh_sentinel *phase_of(qb_bench *b, const qk_kernel *k, const qk_config *cfg)
{
    const int threads = qk_config_get(k, cfg, "threads", 1);
    for (int i = 0; i < b->n_phases; i++)
        if (b->phase_threads[i] == threads)
            return b->phase[i];
    if (b->n_phases == PHASE_THREADS)
        return NULL;
    b->phase_threads[b->n_phases] = threads;
    return b->phase[b->n_phases++] = qh_sentinel_create(b->llc, threads);
}

int qb_measure(qb_bench *b, const qb_task *t, qb_point *pt, qc_msgs *err)
{
    const qk_problem *p = &t->p;
    *pt = t->point;
    pt->entries = NULL;
    pt->counters = NULL;
    pt->n_counters = 0;
    qk_cost cost = qk_problem_cost(p);
    pt->bytes = cost.bytes;
    pt->flops = cost.flops;
    pt->intensity = cost.flops / cost.bytes;
    if (b->o.predict)
        return predict(b, t, pt);

    qc_msgs why = {0};
    char text[256];
    const int cuda = qk_kernel_is_cuda(t->kernel), full = b->o.full_check;
    if (qk_problem_check(p, &why) || qk_kernel_check(t->kernel, p, &t->cfg, text, sizeof text)) {
        if (!why.n)
            qc_msgs_addf(&why, "%s: invalid configuration: %s", t->kernel->name, text);
        fail(pt, &why, "");
        qc_msgs_addf(err, "%s", pt->error);
        qc_msgs_free(&why);
        return QC_EINPUT;
    }
    double need = bytes_needed(t, full), avail = avail_bytes();
    if (need > 0.9 * avail) {
        char b1[32], b2[32];
        qc_msgs_addf(&why, "M=%d N=%d K=%d would need %s of memory; %s is available (use smaller sizes)", p->m, p->n,
                     p->k, qc_format_bytes(need, b1, sizeof b1), qc_format_bytes(avail, b2, sizeof b2));
        fail(pt, &why, "");
        qc_msgs_addf(err, "%s", pt->error);
        qc_msgs_free(&why);
        return QC_EINPUT;
    }
    int rc;
    if (!same_data(&b->d, t) && (rc = dataset_prepare(b, &b->d, t, &why))) {
        fail(pt, &why, "could not prepare the weights");
        qc_msgs_addf(err, "%s", pt->error);
        qc_msgs_free(&why);
        return rc;
    }
    const dataset *d = &b->d;

    /* activations: this M's (the smoothed set's own when SmoothQuant is on) */
    size_t mk = (size_t)p->m * p->k, ybytes = (size_t)p->m * p->n * (p->out_f32 ? 4 : 2);
    const int nr = full || p->m < CHECK_ROWS ? p->m : CHECK_ROWS, nc = d->n_cols;
    uint16_t *x = d->x ? NULL : malloc(mk * 2);
    float *x32 = d->x32 ? NULL : malloc(mk * 4), *xd = malloc(mk * 4);
    int *rows = malloc(sizeof(int) * (size_t)nr);
    float *xs = malloc((size_t)nr * p->k * 4), *xo = malloc((size_t)nr * p->k * 4);
    double *ref_d = malloc((size_t)nr * nc * 8), *ref_o = malloc((size_t)nr * nc * 8);
    void *y = qc_alloc(ybytes), *work = cuda ? NULL : qc_alloc(qk_kernel_workspace(t->kernel, p, &t->cfg));
    if ((!d->x && (!x || !x32)) || !xd || !rows || !xs || !xo || !ref_d || !ref_o || !y || (!cuda && !work)) {
        qc_msgs_addf(&why, "out of memory for M=%d N=%d K=%d", p->m, p->n, p->k);
        fail(pt, &why, "");
        qc_msgs_addf(err, "%s", pt->error);
        rc = QC_ERUNTIME;
        goto done;
    }
    const uint16_t *xin = d->x ? d->x : x;
    const float *xorig = d->x32 ? d->x32 : x32;
    if (!d->x)
        activations(b, p, x, x32);
    qk_activations_dequant(p, xin, xd);

    /* check first: a wrong result is recorded and not timed */
    for (int i = 0; i < nr; i++) {
        rows[i] = (int)((long)i * p->m / nr);
        memcpy(xs + (size_t)i * p->k, xd + (size_t)rows[i] * p->k, (size_t)p->k * 4);
        memcpy(xo + (size_t)i * p->k, xorig + (size_t)rows[i] * p->k, (size_t)p->k * 4);
    }
    qk_reference_gemm(nr, nc, p->k, xs, d->wd_cols, ref_d); /* what the kernel must compute */
    qk_reference_gemm(nr, nc, p->k, xo, d->w_cols, ref_o);  /* what quantization costs */
    pt->checked_rows = nr;
    pt->checked_cols = nc;
    memset(y, 0xff, ybytes); /* NaN: an element the kernel forgets to write fails the check */
    cbench_result r = {0};
    /* a GPU point is checked and timed in one go; the check below decides whether the time stands */
    const cbench_options timing = {.min_time = b->o.min_time, .repetitions = b->o.repetitions, .max_cv = b->o.max_cv,
                                   .budget_s = b->o.budget_s};
    rc = cuda ? qb_gpu_measure(t->kernel, &t->cfg, &d->copies[0], xin, p->m, y, &timing, d->warm, pt->name, &r, pt,
                               &why)
              : qk_gemm(t->kernel, &t->cfg, &d->copies[0], xin, p->m, y, work, &why);
    if (rc) {
        fail(pt, &why, "the kernel refused the problem");
        qc_msgs_addf(err, "%s", pt->error);
        cbench_result_free(&r);
        goto done;
    }
    pt->kernel_error = qk_relative_error(p, y, ref_d, nr, rows, nc, d->cols);
    pt->quant_error = qk_relative_error(p, y, ref_o, nr, rows, nc, d->cols);
    pt->weight_error = d->weight_error;
    if (!(pt->kernel_error <= qk_error_limit(p))) {
        pt->status = QB_FAILED;
        snprintf(pt->error, sizeof pt->error, "wrong result: kernel error %.3g exceeds %.0e; not timed",
                 pt->kernel_error, qk_error_limit(p));
        cbench_result_free(&r); /* a wrong GPU result: its timing does not stand */
        goto done;
    }

    call c = {.k = t->kernel, .cfg = &t->cfg, .copies = d->copies, .n_copies = d->n_copies, .x = xin, .m = p->m,
              .y = y, .work = work};
    if (!cuda) {
        /* timed in the machine's usual phase: waited for before, read again after; timing that
         * a phase change may have reached is done again (twice at most), all within guard_left */
        qh_sentinel *ph = phase_of(b, t->kernel, &t->cfg);
        for (int attempt = 0;; attempt++) {
            int before = 1;
            if (ph) {
                const double spent = phase_wait(b, ph, QB_PHASE_WAIT_S, &before);
                pt->phase_waited_s += spent > 0.05 ? spent : 0; /* not the sentinel's own 4 ms */
            }
            const double t0 = qc_now();
            if (d->warm) /* the copy in the caches before the clock starts */
                one_call(&c);
            if ((rc = cbench_run(pt->name, one_call, &c, &timing, &r, &why))) {
                fail(pt, &why, "Google Benchmark failed");
                qc_msgs_addf(err, "%s", pt->error);
                goto done;
            }
            const int after = ph && qh_sentinel_usual(ph);
            pt->phase_unusual = ph && (!before || !after);
            if (ph)
                pt->phase_read = qh_sentinel_last(ph);
            if (!pt->phase_unusual || attempt == 2 || guard_left(b) <= 0)
                break;
            pt->phase_redone++;
            b->guard_s += qc_now() - t0;
            cbench_result_free(&r);
        }
    }
    pt->median_s = r.median_s;
    pt->min_s = r.min_s;
    pt->cv = r.cv;
    pt->repetitions = r.repetitions;
    pt->rounds = r.rounds;
    pt->noisy = r.noisy;
    pt->iterations = r.iterations;
    pt->gbs = cost.bytes / r.median_s / 1e9;
    pt->gflops = cost.flops / r.median_s / 1e9;
    json_error_t je;
    json_t *doc = json_loads(r.json, 0, &je);
    pt->entries = json_incref(json_object_get(doc, "benchmarks"));
    json_decref(doc);
    cbench_result_free(&r);
    pt->copies = d->n_copies;
    snprintf(pt->cache_mode, sizeof pt->cache_mode, "%s",
             cuda    ? (d->warm ? "warm" : "l2-flush")
             : d->warm || d->n_copies * (double)d->copies[0].bytes < b->llc ? "warm"
                                                                               : "cold");

    /* counters: per call, over a few calls; each unavailable one says why (GPU: CUPTI, above) */
    qh_counters *hc;
    if (!cuda && qh_counters_create(&hc, qh_cpu_events, qh_n_cpu_events, NULL) == QC_OK) {
        const int calls = 3;
        qh_counters_start(hc);
        for (int i = 0; i < calls; i++)
            one_call(&c);
        qh_counters_stop(hc);
        for (int i = 0; i < qh_counters_count(hc); i++) {
            const qh_counter *k = qh_counters_get(hc, i);
            qb_point_add_counter(pt, k->name, "papi", k->available ? (double)k->value / calls : 0,
                                 k->available ? NULL : k->reason);
        }
        qh_counters_destroy(hc);
    }
    rc = QC_OK;
done:
    /* the cost model's bytes stand beside any measured ones */
    qb_point_add_counter(pt, "bytes_moved", "model", cost.bytes, NULL);
    place(pt, b->o.profile, t);
    qc_msgs_free(&why);
    free(x), free(x32), free(xd), free(rows), free(xs), free(xo), free(ref_d), free(ref_o), free(y), free(work);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The weight copies moved to fresh memory: where the pages lie changes a kernel's speed by a
 * few percent for as long as they stay there (on a VM, how the host backs them), so an
 * interleaved comparison samples more than one placement. */
static int dataset_move(dataset *d, qc_msgs *err)
{
    for (int c = 0; c < d->n_copies; c++) {
        qk_weights moved;
        int rc = qk_weights_copy(&d->copies[c], &moved, err);
        if (rc)
            return rc;
        qk_weights_free(&d->copies[c]);
        d->copies[c] = moved;
    }
    return QC_OK;
}

/* Seconds per call of c over at least min_time. */
static double turn(call *c, double min_time)
{
    int calls = 0;
    double t0 = qc_now(), el;
    do {
        one_call(c);
        calls++;
    } while ((el = qc_now() - t0) < min_time);
    return el / calls;
}

int qb_measure_pair(qb_bench *b, const qb_task *ta, const qb_task *tb, int pairs, qb_pair *out, qc_msgs *err)
{
    memset(out, 0, sizeof *out);
    const qk_problem *pa = &ta->p, *pb = &tb->p;
    if (pa->m != pb->m || pa->n != pb->n || pa->k != pb->k || ta->point.warm != tb->point.warm ||
        qk_kernel_is_cuda(ta->kernel) || qk_kernel_is_cuda(tb->kernel)) {
        qc_msgs_addf(err, "an interleaved comparison needs two CPU kernels on one M, N and K in one cache mode");
        return QC_EINPUT;
    }
    /* one weight set when the two share it (two configurations of a kernel), else one each */
    int rc;
    if (!same_data(&b->d, ta) && (rc = dataset_prepare(b, &b->d, ta, err)))
        return rc;
    const int shared = same_data(&b->d, tb);
    if (!shared && !same_data(&b->other, tb) && (rc = dataset_prepare(b, &b->other, tb, err)))
        return rc;
    const dataset *da = &b->d, *db = shared ? &b->d : &b->other;
    const size_t mk = (size_t)pa->m * pa->k, ybytes = (size_t)pa->m * pa->n * 4;
    uint16_t *xa = da->x ? NULL : malloc(mk * 2), *xb = db->x ? NULL : malloc(mk * 2);
    void *y = qc_alloc(ybytes), *wa = qc_alloc(qk_kernel_workspace(ta->kernel, pa, &ta->cfg)),
         *wb = qc_alloc(qk_kernel_workspace(tb->kernel, pb, &tb->cfg));
    double *ra = malloc(sizeof(double) * (size_t)pairs), *rb = malloc(sizeof(double) * (size_t)pairs),
           *ratio = malloc(sizeof(double) * (size_t)pairs);
    if ((!da->x && !xa) || (!db->x && !xb) || !y || !wa || !wb || !ra || !rb || !ratio) {
        qc_msgs_addf(err, "out of memory for M=%d N=%d K=%d", pa->m, pa->n, pa->k);
        rc = QC_ERUNTIME;
        goto done;
    }
    if (!da->x)
        activations(b, pa, xa, NULL);
    if (!db->x)
        activations(b, pb, xb, NULL);
    call ca = {.k = ta->kernel, .cfg = &ta->cfg, .copies = da->copies, .n_copies = da->n_copies,
               .x = da->x ? da->x : xa, .m = pa->m, .y = y, .work = wa};
    call cb = {.k = tb->kernel, .cfg = &tb->cfg, .copies = db->copies, .n_copies = db->n_copies,
               .x = db->x ? db->x : xb, .m = pb->m, .y = y, .work = wb};
    const double min_time = b->o.min_time > 0 ? b->o.min_time : 0.05;
    turn(&ca, min_time / 4); /* both warmed up before the first pair */
    turn(&cb, min_time / 4);
    qh_sentinel *ph = phase_of(b, ta->kernel, &ta->cfg);
    const int per_place = (pairs + PAIR_PLACEMENTS - 1) / PAIR_PLACEMENTS;
    for (int i = 0; i < pairs; i++) {
        if (i && i % per_place == 0) { /* the next placement of both weight sets */
            if ((rc = dataset_move(&b->d, err)) || (!shared && (rc = dataset_move(&b->other, err))))
                goto done;
            turn(&ca, min_time / 4);
            turn(&cb, min_time / 4);
        }
        int usual;
        if (ph) /* each pair in the usual phase as far as can be had */
            phase_wait(b, ph, QB_PHASE_WAIT_S / 4, &usual);
        ra[i] = turn(&ca, min_time);
        rb[i] = turn(&cb, min_time);
        ratio[i] = ra[i] / rb[i];
    }
    qsort(ra, (size_t)pairs, sizeof *ra, cmp_double);
    qsort(rb, (size_t)pairs, sizeof *rb, cmp_double);
    qsort(ratio, (size_t)pairs, sizeof *ratio, cmp_double);
    out->pairs = pairs;
    out->ratio = ratio[pairs / 2];
    out->ratio_lo = ratio[pairs / 4];
    out->ratio_hi = ratio[(3 * pairs) / 4 < pairs ? (3 * pairs) / 4 : pairs - 1];
    out->a_s = ra[pairs / 2];
    out->b_s = rb[pairs / 2];
    rc = QC_OK;
done:
    free(xa), free(xb), free(y), free(wa), free(wb), free(ra), free(rb), free(ratio);
    return rc;
}
