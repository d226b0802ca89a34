/* Shards: which part of the run set this process runs, balanced by predicted cost. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sweep.h"
#include "tuner/roofline.h"

enum { QB_MAX_SHARDS = 4096 };

/* ------------------------------------------------------------------ I/N or the launcher's */

static int env_int(const char *name, int lo, int hi, int *out, qc_msgs *err)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return 1; /* not set */
    return qc_parse_int(v, lo, hi, name, out, err) ? -1 : 0;
}

int qb_shard_parse(const char *text, qb_shard *s, qc_msgs *err)
{
    memset(s, 0, sizeof *s);
    if (strcmp(text, "auto")) {
        const char *slash = strchr(text, '/');
        char idx[32];
        if (!slash || slash == text || (size_t)(slash - text) >= sizeof idx) {
            qc_msgs_addf(err, "--shard '%s': give I/N (this is part I of N, 0 ≤ I < N) or auto", text);
            return QC_EINPUT;
        }
        snprintf(idx, sizeof idx, "%.*s", (int)(slash - text), text);
        if (qc_parse_int(slash + 1, 1, QB_MAX_SHARDS, "--shard's N", &s->count, err) ||
            qc_parse_int(idx, 0, s->count - 1, "--shard's I (0 ≤ I < N)", &s->index, err))
            return QC_EINPUT;
        snprintf(s->from, sizeof s->from, "--shard %d/%d", s->index, s->count);
        return QC_OK;
    }
    /* the launchers, in the order the documentation gives */
    static const struct { const char *rank, *size; } pairs[] = {
        {"SLURM_PROCID", "SLURM_NTASKS"}, {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}, {"PMI_RANK", "PMI_SIZE"}};
    int id, rc = env_int("SLURM_ARRAY_TASK_ID", 0, 1 << 30, &id, err);
    if (rc < 0)
        return QC_EINPUT;
    if (rc == 0) {
        int lo = 0, step = 1, count;
        if (env_int("SLURM_ARRAY_TASK_MIN", 0, 1 << 30, &lo, err) < 0 ||
            env_int("SLURM_ARRAY_TASK_STEP", 1, 1 << 30, &step, err) < 0)
            return QC_EINPUT;
        if ((rc = env_int("SLURM_ARRAY_TASK_COUNT", 1, QB_MAX_SHARDS, &count, err))) {
            if (rc > 0)
                qc_msgs_addf(err, "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not "
                                  "(run under sbatch --array, or give --shard I/N)");
            return QC_EINPUT;
        }
        if (id < lo || (id - lo) % step || (id - lo) / step >= count) {
            qc_msgs_addf(err, "--shard auto: SLURM_ARRAY_TASK_ID=%d is not one of the %d tasks from "
                              "SLURM_ARRAY_TASK_MIN=%d in steps of %d (give --shard I/N)", id, count, lo, step);
            return QC_EINPUT;
        }
        s->index = (id - lo) / step;
        s->count = count;
        snprintf(s->from, sizeof s->from, "SLURM_ARRAY_TASK_ID=%d of %d from %d", id, count, lo);
        return QC_OK;
    }
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        int rank, size;
        if ((rc = env_int(pairs[i].rank, 0, QB_MAX_SHARDS - 1, &rank, err)) < 0)
            return QC_EINPUT;
        if (rc)
            continue;
        if ((rc = env_int(pairs[i].size, 1, QB_MAX_SHARDS, &size, err))) {
            if (rc > 0)
                qc_msgs_addf(err, "--shard auto: %s is set but %s is not", pairs[i].rank, pairs[i].size);
            return QC_EINPUT;
        }
        if (rank >= size) {
            qc_msgs_addf(err, "--shard auto: %s=%d is not below %s=%d", pairs[i].rank, rank, pairs[i].size, size);
            return QC_EINPUT;
        }
        s->index = rank;
        s->count = size;
        snprintf(s->from, sizeof s->from, "%s=%d of %s=%d", pairs[i].rank, rank, pairs[i].size, size);
        return QC_OK;
    }
    qc_msgs_addf(err, "--shard auto: no launcher said which part this is: none of SLURM_ARRAY_TASK_ID (with "
                      "SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT), SLURM_PROCID (with SLURM_NTASKS), "
                      "OMPI_COMM_WORLD_RANK (with OMPI_COMM_WORLD_SIZE) or PMI_RANK (with PMI_SIZE) is set (run it "
                      "under sbatch --array, srun or mpirun, or give --shard I/N)");
    return QC_EINPUT;
}

/* ------------------------------------------------------------------ the cost model */

/* what a point costs besides its timed calls (activations, the fp64 check, counters, writing the
 * results), and what preparing a set of weights costs per weight (generated with LLM-like
 * statistics, quantized, packed, copied until cold, and the fp64 reference columns): measured on
 * the 2-core Zen 4 VM qbench is developed on (a quick sweep's units: about 60 ns per weight). The
 * order of magnitude is what balance needs; each shard prints its time beside its prediction. */
static const double POINT_S = 0.05, UNIT_S = 0.05, PER_WEIGHT_S = 60e-9;
static const double NOMINAL_GBS = 50, NOMINAL_GOPS = 1000;

static double call_seconds(const qb_task *t, const qp_profile *prof, char *basis, size_t len, int *nominal)
{
    qt_model md;
    qk_cost c = qk_problem_cost(&t->p);
    double s = 0;
    char b[160] = "";
    if (prof && qt_model_of(prof, NULL, t->kernel, &t->cfg, &md, b, sizeof b))
        s = qt_predict(&md, c.bytes, c.flops, t->p.m);
    if (s > 0 && !basis[0])
        snprintf(basis, len, "%s", b);
    if (!(s > 0)) {
        *nominal = 1;
        s = fmax(c.bytes / (NOMINAL_GBS * 1e9), c.flops / (NOMINAL_GOPS * 1e9));
    }
    return s;
}

static int same_unit(const qb_task *a, const qb_task *b)
{
    return a->kernel == b->kernel && a->p.scheme == b->p.scheme && a->p.n == b->p.n && a->p.k == b->p.k &&
           a->p.group == b->p.group && a->p.asym == b->p.asym && a->p.fp8_channel == b->p.fp8_channel &&
           a->p.out_f32 == b->p.out_f32 && a->p.act_bf16 == b->p.act_bf16 && a->smooth == b->smooth && a->point.warm == b->point.warm;
}

/* a run of adjacent tasks of one unit and one M: what a shard takes or leaves whole */
typedef struct piece {
    int first, n;  /* tasks */
    int unit;
    double cost;
} piece;

/* a run of adjacent pieces of one unit, with the preparation of its weights */
typedef struct part {
    int lo, hi; /* pieces */
    double cost;
    int shard;
} part;

static double part_cost(const piece *pc, int lo, int hi, double prep)
{
    double c = prep;
    for (int i = lo; i < hi; i++)
        c += pc[i].cost;
    return c;
}

static const part *sort_parts; /* qsort's context */
static int by_cost(const void *a, const void *b)
{
    const part *x = &sort_parts[*(const int *)a], *y = &sort_parts[*(const int *)b];
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return x->lo - y->lo;
}

/* longest first, each to the least loaded shard (the lowest index on a tie) */
static double lpt(part *pt, int np, int count, double *load)
{
    int *order = qc_xcalloc((size_t)np, sizeof *order);
    for (int i = 0; i < np; i++)
        order[i] = i;
    sort_parts = pt;
    qsort(order, (size_t)np, sizeof *order, by_cost);
    for (int s = 0; s < count; s++)
        load[s] = 0;
    for (int i = 0; i < np; i++) {
        int best = 0;
        for (int s = 1; s < count; s++)
            if (load[s] < load[best])
                best = s;
        pt[order[i]].shard = best;
        load[best] += pt[order[i]].cost;
    }
    free(order);
    double lo = load[0], hi = load[0];
    for (int s = 1; s < count; s++)
        lo = fmin(lo, load[s]), hi = fmax(hi, load[s]);
    return lo > 0 ? hi / lo - 1 : INFINITY;
}

void qb_shard_plan_make(const qb_task *tasks, int n, int count, const qb_measure_opts *m, qb_shard_plan *out)
{
    memset(out, 0, sizeof *out);
    out->count = count;
    out->owner = qc_xcalloc((size_t)(n ? n : 1), sizeof *out->owner);
    out->cost_s = qc_xcalloc((size_t)count, sizeof *out->cost_s);
    out->points = qc_xcalloc((size_t)count, sizeof *out->points);

    /* pieces and units, from the plan's order (a unit's tasks are adjacent, M by M) */
    piece *pc = qc_xcalloc((size_t)(n ? n : 1), sizeof *pc);
    double *prep = qc_xcalloc((size_t)(n ? n : 1), sizeof *prep);
    int np = 0, nu = 0, nominal = 0;
    char basis[160] = "";
    for (int i = 0; i < n; i++) {
        const qb_task *t = &tasks[i];
        const int new_unit = !i || !same_unit(t, &tasks[i - 1]);
        if (new_unit) {
            prep[nu++] = UNIT_S + PER_WEIGHT_S * (double)t->p.n * t->p.k;
        }
        if (new_unit || t->p.m != tasks[i - 1].p.m)
            pc[np++] = (piece){.first = i, .unit = nu - 1};
        const double call = call_seconds(t, m->profile, basis, sizeof basis, &nominal);
        pc[np - 1].n++;
        pc[np - 1].cost += (m->repetitions + 1) * fmax(m->min_time, call) + 2 * call + POINT_S;
    }
    if (!basis[0])
        snprintf(out->basis, sizeof out->basis, "a nominal %.0f GB/s and %.0f GOP/s (the profile has no ceilings)",
                 NOMINAL_GBS, NOMINAL_GOPS);
    else
        snprintf(out->basis, sizeof out->basis, "profile %s, %s%s", m->profile->name, basis,
                 nominal ? " (nominal rates where it has no figure)" : "");

    /* the parts: whole units first, halved while the shards differ by more than 10% */
    part *pt = qc_xcalloc((size_t)(np ? np : 1), sizeof *pt);
    int nparts = 0;
    for (int i = 0; i < np; i++)
        if (!i || pc[i].unit != pc[i - 1].unit)
            pt[nparts++] = (part){.lo = i, .hi = i + 1};
        else
            pt[nparts - 1].hi = i + 1;
    for (int i = 0; i < nparts; i++)
        pt[i].cost = part_cost(pc, pt[i].lo, pt[i].hi, prep[pc[pt[i].lo].unit]);
    double imb = lpt(pt, nparts, count, out->cost_s);
    while (imb > 0.10 && nparts < np) {
        int big = -1;
        for (int i = 0; i < nparts; i++)
            if (pt[i].hi - pt[i].lo > 1 && (big < 0 || pt[i].cost > pt[big].cost))
                big = i;
        if (big < 0)
            break;
        const double p = prep[pc[pt[big].lo].unit], half = (pt[big].cost - p) / 2;
        int cut = pt[big].lo + 1;
        for (double acc = pc[pt[big].lo].cost; cut < pt[big].hi - 1 && acc + pc[cut].cost / 2 < half; cut++)
            acc += pc[cut].cost;
        pt[nparts] = (part){.lo = cut, .hi = pt[big].hi};
        pt[big].hi = cut;
        pt[big].cost = part_cost(pc, pt[big].lo, pt[big].hi, p);
        pt[nparts].cost = part_cost(pc, cut, pt[nparts].hi, p);
        nparts++;
        imb = lpt(pt, nparts, count, out->cost_s);
    }
    out->imbalance = imb;

    /* every task's shard, and the hash of the whole assignment */
    size_t cap = 64, len = 0;
    char *text = qc_xcalloc(cap, 1);
    for (int i = 0; i < nparts; i++)
        for (int j = pt[i].lo; j < pt[i].hi; j++)
            for (int t = pc[j].first; t < pc[j].first + pc[j].n; t++) {
                out->owner[t] = pt[i].shard;
                out->points[pt[i].shard]++;
            }
    for (int t = 0; t < n; t++) {
        size_t need = strlen(tasks[t].point.name) + 16;
        if (len + need >= cap) {
            cap = 2 * (len + need);
            text = qc_xrealloc(text, cap);
        }
        len += (size_t)snprintf(text + len, cap - len, "%s=%d\n", tasks[t].point.name, out->owner[t]);
    }
    len += (size_t)snprintf(text + len, cap - len, "%d", count);
    qt_hash_bytes(text, len, out->hash);
    free(text);
    free(pt);
    free(pc);
    free(prep);
}

void qb_shard_plan_free(qb_shard_plan *p)
{
    free(p->owner);
    free(p->cost_s);
    free(p->points);
    memset(p, 0, sizeof *p);
}

void qb_shard_select(const qb_shard_plan *p, int index, qb_task *tasks, int *n)
{
    int k = 0;
    for (int i = 0; i < *n; i++)
        if (p->owner[i] == index)
            tasks[k++] = tasks[i];
    *n = k;
}
