/* qbench fit | tune | emit | plot, and the chain that `qbench sweep` runs after a sweep. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/cli.h"
#include "bench/results.h"
#include "bench/sweep.h"
#include "hardware/hardware.h"
#include "plots/plot.h"
#include "profiles/profile.h"
#include "tuner/roofline.h"

/* ------------------------------------------------------------------ loading */

typedef struct pipeline {
    const char *path;
    qb_results res;
    qt_obs *obs;
    int n_obs;
    char hash[17];
    char device[64]; /* the profile the results were made with */
    qt_scheme_fit fits[QK_SCHEME_COUNT];
    qt_tuned tuned;
} pipeline;

static int config_threads(const char *config)
{
    const char *t = strstr(config, "threads=");
    return t ? atoi(t + 8) : 1;
}

static int pipeline_load(pipeline *pl, const char *path, qc_msgs *err)
{
    memset(pl, 0, sizeof *pl);
    pl->path = path;
    int rc = qb_results_read(path, &pl->res, err);
    if (rc)
        return rc;
    if ((rc = qt_hash_file(path, pl->hash, err)))
        return rc;
    const char *dev = json_string_value(json_object_get(json_object_get(pl->res.context, "qbench"), "profile"));
    snprintf(pl->device, sizeof pl->device, "%s", dev ? dev : "unknown");
    if (pl->res.n == 0) {
        qc_msgs_addf(err, "%s: no points (run a sweep into it first)", path);
        return QC_EINPUT;
    }
    pl->obs = calloc((size_t)pl->res.n, sizeof *pl->obs);
    for (int i = 0; i < pl->res.n; i++) {
        const qb_point *p = &pl->res.v[i];
        if (p->status == QB_FAILED || !(p->median_s > 0))
            continue;
        qt_obs *o = &pl->obs[pl->n_obs++];
        o->scheme = p->p.scheme;
        snprintf(o->kernel, sizeof o->kernel, "%s", p->kernel);
        snprintf(o->config, sizeof o->config, "%s", p->config);
        o->threads = config_threads(p->config);
        o->m = p->p.m;
        o->n = p->p.n;
        o->k = p->p.k;
        o->group = p->p.group;
        o->bytes = p->bytes;
        o->flops = p->flops;
        o->time_s = p->median_s;
        o->cv = p->cv;
        o->quant_error = p->quant_error;
        const qk_kernel *k = qk_kernel_find(p->kernel);
        if (k) {
            qk_config d;
            char text[128];
            k->defaults(&p->p, &d);
            qk_config_format(k, &d, text, sizeof text);
            o->is_default = !strcmp(text, p->config);
        } else {
            o->is_default = 1; /* predicted points: the model's one configuration */
        }
    }
    if (pl->n_obs == 0) {
        qc_msgs_addf(err, "%s: all %d points failed; there is nothing to fit or tune (see each point's 'error')", path,
                     pl->res.n);
        return QC_EINPUT;
    }
    return QC_OK;
}

static void pipeline_free(pipeline *pl)
{
    qb_results_free(&pl->res);
    free(pl->obs);
    qt_tuned_free(&pl->tuned);
}

/* ------------------------------------------------------------------ fit */

static void fit_report(const pipeline *pl, const qp_profile *prof, FILE *f, int crossovers)
{
    fprintf(f, "%-6s %6s %12s %12s %10s %9s   %12s %12s\n", "scheme", "points", "fit GB/s", "fit GOP/s", "t0 (us)",
            "residual", "probed GB/s", "probed GOP/s");
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        const qt_scheme_fit *ft = &pl->fits[s];
        if (!ft->present)
            continue;
        double gbs = 0, gops = 0;
        const char *src = "", *isa = "";
        for (int i = 0; i < pl->n_obs; i++) /* the kernel most of this scheme's points used */
            if (pl->obs[i].scheme == s) {
                const qk_kernel *k = qk_kernel_find(pl->obs[i].kernel);
                isa = k ? k->isa : "cuda";
            }
        if (prof)
            qp_profile_ceilings(prof, qk_scheme_name((qk_scheme)s), isa, 0, &gbs, &gops, &src);
        fprintf(f, "%-6s %6d %12.2f %12.2f %10.2f %8.1f%%   %12.2f %12.2f\n", qk_scheme_name((qk_scheme)s), ft->n,
                ft->model.bw_gbs, ft->model.peak_gops, ft->model.t0_s * 1e6, 100 * ft->residual, gbs, gops);
    }
    /* each kernel's efficiency: measured ÷ attainable under the probed ceilings */
    fprintf(f, "\n%-20s %7s %22s\n", "kernel", "points", "efficiency (mean, min)");
    for (int i = 0; i < pl->res.n; i++) {
        const char *kn = pl->res.v[i].kernel;
        int first = 1;
        for (int j = 0; j < i; j++)
            first &= strcmp(pl->res.v[j].kernel, kn) != 0;
        if (!first)
            continue;
        double sum = 0, mn = INFINITY;
        int c = 0;
        for (int j = i; j < pl->res.n; j++)
            if (!strcmp(pl->res.v[j].kernel, kn) && pl->res.v[j].status == QB_OK && pl->res.v[j].pct_of_ceiling > 0) {
                sum += pl->res.v[j].pct_of_ceiling;
                mn = fmin(mn, pl->res.v[j].pct_of_ceiling);
                c++;
            }
        if (c)
            fprintf(f, "%-20s %7d %14.1f%% %5.1f%%\n", kn, c, sum / c, mn);
    }
    if (!crossovers)
        return;
    fprintf(f, "\ncrossovers (fitted models): where one scheme overtakes another as M grows\n");
    int shapes[64][3], ns = 0;
    for (int i = 0; i < pl->n_obs; i++) {
        int s = 0;
        while (s < ns && !(shapes[s][0] == pl->obs[i].n && shapes[s][1] == pl->obs[i].k))
            s++;
        if (s == ns && ns < 64) {
            shapes[ns][0] = pl->obs[i].n;
            shapes[ns][1] = pl->obs[i].k;
            shapes[ns][2] = 128;
            ns++;
        }
    }
    for (int s = 0; s < ns; s++)
        for (int a = 0; a < QK_SCHEME_COUNT; a++)
            for (int b = a + 1; b < QK_SCHEME_COUNT; b++) {
                if (!pl->fits[a].present || !pl->fits[b].present)
                    continue;
                int dir, m = qt_crossover(&pl->fits[a].model, &pl->fits[b].model, a, b, shapes[s][0], shapes[s][1],
                                          shapes[s][2], 1 << 16, &dir);
                if (m)
                    fprintf(f, "  %s → %s at M≈%d for %dx%d\n", qk_scheme_name((qk_scheme)(dir > 0 ? a : b)),
                            qk_scheme_name((qk_scheme)(dir > 0 ? b : a)), m, shapes[s][0], shapes[s][1]);
            }
}

static int write_fit(pipeline *pl, qp_profile *prof, const char *profile_out, qc_msgs *err)
{
    qp_fit_model m[QK_SCHEME_COUNT];
    int n = 0;
    json_t *jf = json_array();
    for (int s = 0; s < QK_SCHEME_COUNT; s++) {
        const qt_scheme_fit *ft = &pl->fits[s];
        if (!ft->present)
            continue;
        qp_fit_model *x = &m[n++];
        snprintf(x->scheme, sizeof x->scheme, "%s", qk_scheme_name((qk_scheme)s));
        x->bw_gbs = ft->model.bw_gbs;
        x->peak_gops = ft->model.peak_gops;
        x->t0_s = ft->model.t0_s;
        x->residual = ft->residual;
        x->points = ft->n;
        json_array_append_new(jf, json_pack("{s:s, s:f, s:f, s:f, s:f, s:i}", "scheme", x->scheme, "bw_gbs", x->bw_gbs,
                                            "peak_gops", x->peak_gops, "t0_s", x->t0_s, "residual", x->residual,
                                            "points", x->points));
    }
    qp_profile_set_fit(prof, pl->hash, m, n);
    int rc = qp_profile_write(prof, profile_out, err);
    /* and into the results, beside what was measured */
    json_object_set_new(json_object_get(pl->res.context, "qbench"), "fit", jf);
    if (!rc)
        rc = qb_results_write(&pl->res, pl->path, err);
    return rc;
}

/* The profile the results were made with: a file, a name on the search path, or the host. */
static int find_profile(const char *want, const char *device, qp_profile **out, qc_msgs *err)
{
    *out = NULL;
    const char *name = want ? want : device;
    struct stat st;
    if (want && (strchr(want, '/') || (stat(want, &st) == 0 && S_ISREG(st.st_mode)))) {
        int rc = qp_profile_load(want, out, err);
        if (rc)
            return rc;
    } else {
        qp_catalog cat;
        qp_catalog_load_with_host(&cat, NULL);
        const qp_profile *p = qp_catalog_find(&cat, name);
        if (p)
            *out = qp_profile_copy(p);
        qp_catalog_free(&cat);
        if (!*out) {
            qc_msgs_addf(err, "no profile named '%s' ('qbench profile list' shows the known ones)", name);
            return QC_EINPUT;
        }
    }
    if (strcmp((*out)->name, device) && !qp_profile_named(*out, device)) {
        qc_msgs_addf(err, "the results were made on %s, the profile is %s (fit results against the profile of the "
                          "device they were measured on)", device, (*out)->name);
        qp_profile_free(*out);
        *out = NULL;
        return QC_EINPUT;
    }
    return QC_OK;
}

static const char fit_help[] =
    "usage: qbench fit RESULTS [--profile NAME|FILE] [-o PROFILE] [--report]\n\n"
    "Fits t = t0 + max(bytes/BW, flops/P) per scheme to the results by robust least squares in log\n"
    "space, prints the fitted BW and P beside the probed ceilings, each kernel's efficiency\n"
    "(measured ÷ attainable) and the fit's residual, and writes the fit into the profile (fit:) and\n"
    "into the results. --report adds the crossovers: the M where each pair of schemes swaps order,\n"
    "per shape. The profile defaults to the one the results were made with; it is written to -o,\n"
    "to its own file when it came from one, else beside the results (profile-NAME.yaml).\n";

int cmd_fit(int argc, char **argv)
{
    static const struct option lo[] = {{"profile", required_argument, 0, 'p'}, {"output", required_argument, 0, 'o'},
                                       {"report", no_argument, 0, 'r'},        {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    const char *want = NULL, *out = NULL;
    int report = 0, o;
    while ((o = cli_getopt(argc, argv, "p:o:rh", lo)) != -1) {
        switch (o) {
        case 'p': want = optarg; break;
        case 'o': out = optarg; break;
        case 'r': report = 1; break;
        case 'h': fputs(fit_help, stdout); return 0;
        default: return QC_EINPUT;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(argv[0], "give one results file");
    qc_msgs err = {0};
    pipeline pl;
    int rc = pipeline_load(&pl, argv[optind], &err);
    qp_profile *prof = NULL;
    if (!rc)
        rc = find_profile(want, pl.device, &prof, &err);
    if (!rc) {
        qt_fit_schemes(pl.obs, pl.n_obs, pl.fits, NULL);
        int any = 0;
        for (int s = 0; s < QK_SCHEME_COUNT; s++)
            any |= pl.fits[s].present;
        if (!any) {
            qc_msgs_addf(&err, "%s: no scheme has 3 timed points to fit (sweep more M values)", pl.path);
            rc = QC_EINPUT;
        }
    }
    if (!rc) {
        fit_report(&pl, prof, stdout, report);
        char def[4200];
        if (!out) {
            if (want && strcmp(prof->origin ? prof->origin : "", "built-in") && strchr(prof->origin, '/'))
                out = prof->origin;
            else {
                const char *slash = strrchr(pl.path, '/');
                snprintf(def, sizeof def, "%.*sprofile-%s.yaml", slash ? (int)(slash - pl.path + 1) : 0, pl.path,
                         prof->name);
                out = def;
            }
        }
        rc = write_fit(&pl, prof, out, &err);
        if (!rc)
            printf("\nwrote the fit into %s and %s\n", out, pl.path);
    }
    qp_profile_free(prof);
    pipeline_free(&pl);
    return rc ? cli_fail(&err, rc) : 0;
}

/* ------------------------------------------------------------------ tune, emit */

typedef struct tune_args {
    int edges[QB_MAX_AXIS], n_edges;
    double max_error;
} tune_args;

static int tune_option(int o, tune_args *t, qc_msgs *err)
{
    char *end;
    if (o == 'b')
        return qb_parse_ints("--buckets", optarg, 1, 1 << 30, t->edges, &t->n_edges, err);
    t->max_error = strtod(optarg, &end);
    if (*end || !(t->max_error > 0)) {
        qc_msgs_addf(err, "--max-error '%s': a relative error such as 0.01", optarg);
        return QC_EINPUT;
    }
    return QC_OK;
}

static int pipeline_tune(pipeline *pl, const tune_args *t, qc_msgs *err)
{
    qt_fit_schemes(pl->obs, pl->n_obs, pl->fits, NULL);
    int edges[QB_MAX_AXIS];
    memcpy(edges, t->edges, sizeof edges);
    for (int i = 1; i < t->n_edges; i++) /* ascending */
        for (int j = i; j > 0 && edges[j] < edges[j - 1]; j--) {
            int x = edges[j];
            edges[j] = edges[j - 1];
            edges[j - 1] = x;
        }
    qt_tune_opts o = {.bucket_edges = t->n_edges ? edges : NULL, .n_edges = t->n_edges, .max_error = t->max_error};
    return qt_tune(pl->obs, pl->n_obs, &o, &pl->tuned, err);
}

static void tune_report(const pipeline *pl, FILE *f)
{
    const qt_tuned *t = &pl->tuned;
    fprintf(f, "%-6s %-14s %-6s %-12s %-18s %-44s %10s %s\n", "scheme", "N x K", "group", "M bucket", "kernel",
            "configuration", "time (us)", "");
    for (int i = 0; i < t->n; i++) {
        const qt_winner *w = &t->v[i];
        char shape[32], bucket[32];
        snprintf(shape, sizeof shape, "%dx%d", w->n, w->k);
        snprintf(bucket, sizeof bucket, "(%d, %d]", w->m_lo, w->m_hi);
        fprintf(f, "%-6s %-14s %-6d %-12s %-18s %-44s %10.1f %s\n", qk_scheme_name((qk_scheme)w->scheme), shape,
                w->group, bucket, w->kernel, w->config, w->time_s * 1e6,
                w->tie ? "tie: the simpler configuration stands" : "");
    }
    for (int s = 0; s < QK_SCHEME_COUNT; s++)
        if (t->excluded[s])
            fprintf(f, "excluded: %s (its quantization error exceeds --max-error)\n", qk_scheme_name((qk_scheme)s));
    fprintf(f, "\nroofline pruning (time only configurations predicted within 1.25x of the best): %d of %d points "
               "timed (%d saved); the same winner in %d of %d cells\n",
            t->points_kept, t->points, t->points - t->points_kept, t->same_winners, t->cells);
}

static int emit_to(pipeline *pl, const char *format, const char *path, qc_msgs *err)
{
    qt_emit_info info = {.device = pl->device, .source_hash = pl->hash, .fits = pl->fits, .tuned = &pl->tuned};
    qc_outfile o;
    int rc = qc_outfile_open(&o, path, err);
    if (rc)
        return rc;
    if ((rc = qt_emit(&info, format, o.f, err))) {
        qc_outfile_abort(&o);
        return rc;
    }
    return qc_outfile_commit(&o, err);
}

static const char tune_help[] =
    "usage: qbench tune RESULTS [--buckets LIST] [--max-error E] [-o FILE]\n\n"
    "Picks, per (scheme, N, K, group, M bucket), the fastest correct configuration. M buckets are\n"
    "powers of two unless --buckets gives their upper bounds (e.g. 1,16,64,256,4096). A winner must\n"
    "beat the runner-up by more than twice the measured noise; otherwise the table says tie and the\n"
    "simpler (default) configuration stands. --max-error E leaves out points whose quantization\n"
    "error exceeds E (\"the fastest scheme within 1%% error\" is --max-error 0.01). Also reports how\n"
    "many points roofline pruning would have saved and whether it finds the same winners. -o writes\n"
    "the table as JSON (what `qbench emit --format json` writes).\n";

int cmd_tune(int argc, char **argv)
{
    static const struct option lo[] = {{"buckets", required_argument, 0, 'b'}, {"max-error", required_argument, 0, 'e'},
                                       {"output", required_argument, 0, 'o'},  {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    tune_args ta = {0};
    const char *out = NULL;
    qc_msgs err = {0};
    int o;
    while ((o = cli_getopt(argc, argv, "b:e:o:h", lo)) != -1) {
        if (o == 'h') {
            fputs(tune_help, stdout);
            return 0;
        }
        if (o == 'o')
            out = optarg;
        else if (o == '?' || tune_option(o, &ta, &err))
            return o == '?' ? QC_EINPUT : cli_fail(&err, QC_EINPUT);
    }
    if (optind + 1 != argc)
        return cli_usage_error(argv[0], "give one results file");
    pipeline pl;
    int rc = pipeline_load(&pl, argv[optind], &err);
    if (!rc)
        rc = pipeline_tune(&pl, &ta, &err);
    if (!rc) {
        tune_report(&pl, stdout);
        if (out)
            rc = emit_to(&pl, "json", out, &err);
    }
    pipeline_free(&pl);
    return rc ? cli_fail(&err, rc) : 0;
}

static const char emit_help[] =
    "usage: qbench emit RESULTS --format header|json|vllm -o FILE [--buckets LIST] [--max-error E]\n\n"
    "Tunes the results (as qbench tune) and writes the dispatch table: header, one self-contained\n"
    "qbench_dispatch_<device>.h (C99 and C++; lookups by scheme and (M, N, K, group), the best scheme\n"
    "of a set, the predicted time; unseen shapes answered from the fitted model); json, the same\n"
    "content; vllm, per-device JSON keyed by M. The same input gives the same bytes.\n";

int cmd_emit(int argc, char **argv)
{
    static const struct option lo[] = {{"format", required_argument, 0, 'f'},  {"output", required_argument, 0, 'o'},
                                       {"buckets", required_argument, 0, 'b'}, {"max-error", required_argument, 0, 'e'},
                                       {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    tune_args ta = {0};
    const char *format = NULL, *out = NULL;
    qc_msgs err = {0};
    int o;
    while ((o = cli_getopt(argc, argv, "f:o:b:e:h", lo)) != -1) {
        if (o == 'h') {
            fputs(emit_help, stdout);
            return 0;
        }
        if (o == 'f')
            format = optarg;
        else if (o == 'o')
            out = optarg;
        else if (o == '?' || tune_option(o, &ta, &err))
            return o == '?' ? QC_EINPUT : cli_fail(&err, QC_EINPUT);
    }
    if (optind + 1 != argc)
        return cli_usage_error(argv[0], "give one results file");
    if (!format || (strcmp(format, "header") && strcmp(format, "json") && strcmp(format, "vllm")))
        return cli_usage_error(argv[0], "--format header, json or vllm is required");
    if (!out)
        return cli_usage_error(argv[0], "-o FILE is required");
    pipeline pl;
    int rc = pipeline_load(&pl, argv[optind], &err);
    if (!rc)
        rc = pipeline_tune(&pl, &ta, &err);
    if (!rc)
        rc = emit_to(&pl, format, out, &err);
    pipeline_free(&pl);
    return rc ? cli_fail(&err, rc) : 0;
}

/* ------------------------------------------------------------------ plot */

static int pipeline_plot(pipeline *pl, const char *dir, int *written, qc_msgs *err)
{
    qv_point *pts = calloc((size_t)pl->n_obs + 1, sizeof *pts);
    for (int i = 0; i < pl->n_obs; i++) {
        const qt_obs *o = &pl->obs[i];
        pts[i] = (qv_point){o->scheme, o->m, o->n, o->k, o->flops / o->bytes, o->flops / o->time_s / 1e9};
    }
    /* the ceilings recorded with the sweep */
    qv_ceiling ceil[32];
    int nc = 0;
    json_t *c = json_object_get(json_object_get(pl->res.context, "qbench"), "ceilings");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(c, "bandwidth"), i, e)
    {
        if (nc == 32)
            break;
        double v = json_number_value(json_object_get(e, "gbs"));
        snprintf(ceil[nc].label, sizeof ceil[nc].label, "%s %.1f GB/s",
                 json_string_value(json_object_get(e, "level")), v);
        ceil[nc].gbs = v;
        ceil[nc++].gops = 0;
    }
    json_array_foreach(json_object_get(c, "peak"), i, e)
    {
        if (nc == 32)
            break;
        double v = json_number_value(json_object_get(e, "gops"));
        snprintf(ceil[nc].label, sizeof ceil[nc].label, "%s %.0f GOP/s",
                 json_string_value(json_object_get(e, "format")), v);
        ceil[nc].gbs = 0;
        ceil[nc++].gops = v;
    }
    /* the winning scheme per (shape, M bucket): the fastest of the tuned schemes */
    qv_cell *cells = calloc((size_t)pl->tuned.n + 1, sizeof *cells);
    int ncell = 0;
    for (int a = 0; a < pl->tuned.n; a++) {
        const qt_winner *w = &pl->tuned.v[a];
        int at = -1;
        for (int b = 0; b < ncell; b++)
            if (cells[b].n == w->n && cells[b].k == w->k && cells[b].m_hi == w->m_hi)
                at = b;
        if (at < 0) {
            cells[ncell] = (qv_cell){w->n, w->k, w->m_hi, w->scheme};
            ncell++;
            continue;
        }
        for (int b = 0; b < pl->tuned.n; b++) /* keep the faster */
            if (pl->tuned.v[b].scheme == cells[at].scheme && pl->tuned.v[b].n == w->n && pl->tuned.v[b].k == w->k &&
                pl->tuned.v[b].m_hi == w->m_hi && w->time_s < pl->tuned.v[b].time_s)
                cells[at].scheme = w->scheme;
    }
    qv_input in = {.device = pl->device, .points = pts, .n_points = pl->n_obs, .ceilings = ceil, .n_ceilings = nc,
                   .winners = cells, .n_winners = ncell};
    int rc = qv_plot(&in, dir, written, err);
    free(pts);
    free(cells);
    return rc;
}

static const char plot_help[] = "usage: qbench plot RESULTS -o DIR\n\n"
                                "Draws, with gnuplot (PNG and SVG): the roofline (the measured ceilings and every run,\n"
                                "coloured by scheme), throughput against M per scheme for each shape, and a heat map\n"
                                "of the winning scheme over M × shape. Needs gnuplot (Debian: gnuplot-nox).\n";

int cmd_plot(int argc, char **argv)
{
    static const struct option lo[] = {{"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *dir = NULL;
    int o;
    while ((o = cli_getopt(argc, argv, "o:h", lo)) != -1) {
        if (o == 'h') {
            fputs(plot_help, stdout);
            return 0;
        }
        if (o != 'o')
            return QC_EINPUT;
        dir = optarg;
    }
    if (optind + 1 != argc || !dir)
        return cli_usage_error(argv[0], "give one results file and -o DIR");
    qc_msgs err = {0};
    pipeline pl;
    tune_args ta = {0};
    int written = 0, rc = pipeline_load(&pl, argv[optind], &err);
    if (!rc)
        rc = pipeline_tune(&pl, &ta, &err);
    if (!rc)
        rc = pipeline_plot(&pl, dir, &written, &err);
    if (!rc)
        printf("wrote %d pictures (PNG and SVG) into %s\n", written, dir);
    pipeline_free(&pl);
    return rc ? cli_fail(&err, rc) : 0;
}

/* ------------------------------------------------------------------ the chain after a sweep */

int qb_chain(const char *dir, const char *results, const qp_profile *profile, FILE *log, qc_msgs *err)
{
    pipeline pl;
    tune_args ta = {0};
    int rc = pipeline_load(&pl, results, err);
    if (rc)
        return rc;
    char path[4200];
    rc = pipeline_tune(&pl, &ta, err);
    if (!rc) {
        int any = 0;
        for (int s = 0; s < QK_SCHEME_COUNT; s++)
            any |= pl.fits[s].present;
        if (any) {
            qp_profile *prof = qp_profile_copy(profile);
            snprintf(path, sizeof path, "%s/profile-%s.yaml", dir, prof->name);
            rc = write_fit(&pl, prof, path, err);
            qp_profile_free(prof);
            if (!rc) {
                fprintf(log, "  profile with ceilings and fit  %s\n", path);
                fit_report(&pl, profile, log, 1);
                qt_hash_file(results, pl.hash, err); /* the results now carry the fit */
            }
        } else {
            fprintf(log, "  (no scheme has 3 timed points: no fit)\n");
        }
    }
    if (!rc) {
        fprintf(log, "  results                        %s\n", results);
        static const struct { const char *format, *name; } outs[] = {
            {"header", "qbench_dispatch_%s.h"}, {"json", "qbench_dispatch_%s.json"}, {"vllm", "vllm_%s.json"}};
        for (int i = 0; i < 3 && !rc; i++) {
            char name[128];
            snprintf(name, sizeof name, outs[i].name, pl.device);
            snprintf(path, sizeof path, "%s/%s", dir, name);
            if (!(rc = emit_to(&pl, outs[i].format, path, err)))
                fprintf(log, "  dispatch table (%-6s)         %s\n", outs[i].format, path);
        }
    }
    if (!rc) {
        char why[256];
        snprintf(path, sizeof path, "%s/plots", dir);
        int written = 0;
        if (!qv_available(why, sizeof why))
            fprintf(log, "  plots: skipped: %s\n", why);
        else if (!(rc = pipeline_plot(&pl, path, &written, err)))
            fprintf(log, "  plots (%d, PNG and SVG)         %s\n", written, path);
    }
    pipeline_free(&pl);
    return rc;
}
