/* qbench sweep: the sweep over schemes × shapes × M × groups × configurations. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/cbench.h"
#include "bench/cli.h"
#include "bench/probe.h"
#include "bench/sweep.h"
#include "tuner/roofline.h"

static const char help[] =
    "usage: qbench sweep [--device host|NAME] [--quick] [axes] [-o FILE] [--resume FILE] [--predict]\n\n"
    "Runs every point of the axes' cartesian product (group only for grouped schemes; M = batch ×\n"
    "seq, deduplicated): checks it against the fp64 reference (a wrong result is recorded as\n"
    "failed and not timed), times it through Google Benchmark with the weights cold, reads the\n"
    "PAPI counters it can, and places it against the profile's ceilings (probing them first,\n"
    "quickly, when the profile has none). DIR/results.json is written after every point\n"
    "(atomically); Ctrl-C stops after the current point with everything finished written.\n"
    "Then, into DIR: the roofline fit (profile-NAME.yaml), the tuned dispatch tables\n"
    "(qbench_dispatch_NAME.h, .json, vllm_NAME.json) and the plots (plots/, with gnuplot).\n\n"
    "  --device NAME     host (default) or a profile: a profile no local device matches can only\n"
    "                    be predicted (--predict)\n"
    "  --quick           a small grid: batch 1,4,16,64,256; seq 1; group 128; every scheme;\n"
    "                    llama-3-8b q (4096x4096) and down (4096x14336); short timings\n"
    "  --batch LIST      e.g. 1,2,4 or 1:256 (powers of two) or 1:256:*4 or 64:512:64\n"
    "  --seq LIST        sequence lengths (1 is decode; prefill is batch × seq)\n"
    "  --group LIST      int4 group sizes, -1 for per channel (default 128; quick 128)\n"
    "  --schemes LIST    fp16,w8a16,w4a16,w8a8,w4a8,fp8 (default: all)\n"
    "  --shapes LIST     NxK or llama-2-7b, llama-3-8b, mistral-7b, qwen2.5-7b, llama-2-70b,\n"
    "                    llama-3-70b (each also -fused)\n"
    "  --configs C       default (each scheme's best kernel, default configuration), pruned\n"
    "                    (every SIMD kernel, each parameter varied alone), all (every combination)\n"
    "  --min-time S      seconds per repetition (default 0.1; quick 0.03)\n"
    "  --repetitions N   Google Benchmark repetitions (default 5; quick 3)\n"
    "  -o, --output DIR  where everything goes (default out)\n"
    "  --resume FILE     keep FILE's finished points and run the rest into it (and its directory)\n"
    "  --predict         fill the results from the profile's ceilings through the roofline model,\n"
    "                    every point marked predicted\n"
    "Exit: 0 done, 2 bad input, 1 failure, 130 interrupted (resume with --resume FILE).\n";

static volatile sig_atomic_t stop_flag;
static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}


/* Google Benchmark's context (host, CPUs, caches, ...) plus a qbench section. */
static double noop(void *ctx)
{
    (void)ctx;
    return -1;
}

static json_t *make_context(const qp_profile *prof, const char *device, int predict)
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
    json_t *q = json_pack("{s:s, s:s, s:s, s:s, s:b}", "version", QBENCH_VERSION, "device", device, "profile",
                          prof->name, "created", date, "predicted", predict);
    /* the ceilings the points were placed against (drawn by qbench plot) */
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

static void summary(const qb_results *res, FILE *f)
{
    /* per shape: M down, schemes across, median time; and how w4a16 compares */
    int shapes[64][2], ns = 0;
    for (int i = 0; i < res->n; i++) {
        int seen = 0;
        for (int s = 0; s < ns; s++)
            seen |= shapes[s][0] == res->v[i].p.n && shapes[s][1] == res->v[i].p.k;
        if (!seen && ns < 64) {
            shapes[ns][0] = res->v[i].p.n;
            shapes[ns][1] = res->v[i].p.k;
            ns++;
        }
    }
    for (int s = 0; s < ns; s++) {
        fprintf(f, "\nN=%d K=%d: median time per call in microseconds (best configuration measured)%s\n", shapes[s][0],
                shapes[s][1], res->n && res->v[0].status == QB_PREDICTED ? ", predicted" : "");
        fprintf(f, "%7s", "M");
        for (int c = 0; c < QK_SCHEME_COUNT; c++)
            fprintf(f, " %10s", qk_scheme_name((qk_scheme)c));
        fprintf(f, "  %14s %14s\n", "w4a16 vs fp16", "w4a16 vs w8a8");
        int ms[256], nm = 0;
        for (int i = 0; i < res->n; i++) {
            if (res->v[i].p.n != shapes[s][0] || res->v[i].p.k != shapes[s][1])
                continue;
            int seen = 0;
            for (int j = 0; j < nm; j++)
                seen |= ms[j] == res->v[i].p.m;
            if (!seen && nm < 256)
                ms[nm++] = res->v[i].p.m;
        }
        for (int a = 0; a < nm; a++) {
            double best[QK_SCHEME_COUNT] = {0};
            int failed[QK_SCHEME_COUNT] = {0};
            for (int i = 0; i < res->n; i++) {
                const qb_point *p = &res->v[i];
                if (p->p.n != shapes[s][0] || p->p.k != shapes[s][1] || p->p.m != ms[a])
                    continue;
                if (p->status == QB_FAILED)
                    failed[p->p.scheme] = 1;
                else if (!best[p->p.scheme] || p->median_s < best[p->p.scheme])
                    best[p->p.scheme] = p->median_s;
            }
            fprintf(f, "%7d", ms[a]);
            for (int c = 0; c < QK_SCHEME_COUNT; c++) {
                if (best[c])
                    fprintf(f, " %10.1f", best[c] * 1e6);
                else
                    fprintf(f, " %10s", failed[c] ? "FAILED" : "-");
            }
            double w4 = best[QK_W4A16];
            char r1[24] = "-", r2[24] = "-";
            if (w4 && best[QK_FP16])
                snprintf(r1, sizeof r1, "%.2fx %s", best[QK_FP16] / w4, w4 < best[QK_FP16] ? "faster" : "slower");
            if (w4 && best[QK_W8A8])
                snprintf(r2, sizeof r2, "%.2fx %s", best[QK_W8A8] / w4, w4 < best[QK_W8A8] ? "faster" : "slower");
            fprintf(f, "  %14s %14s\n", r1, r2);
        }
    }
}

int cmd_sweep(int argc, char **argv)
{
    enum { O_DEVICE = 256, O_QUICK, O_BATCH, O_SEQ, O_GROUP, O_SCHEMES, O_SHAPES, O_CONFIGS, O_MINTIME, O_REPS,
           O_RESUME, O_PREDICT };
    static const struct option lo[] = {
        {"device", required_argument, 0, O_DEVICE},   {"quick", no_argument, 0, O_QUICK},
        {"batch", required_argument, 0, O_BATCH},     {"seq", required_argument, 0, O_SEQ},
        {"group", required_argument, 0, O_GROUP},     {"schemes", required_argument, 0, O_SCHEMES},
        {"shapes", required_argument, 0, O_SHAPES},   {"configs", required_argument, 0, O_CONFIGS},
        {"min-time", required_argument, 0, O_MINTIME}, {"repetitions", required_argument, 0, O_REPS},
        {"output", required_argument, 0, 'o'},        {"resume", required_argument, 0, O_RESUME},
        {"predict", no_argument, 0, O_PREDICT},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *device = "host", *out = NULL, *resume = NULL;
    const char *batch = NULL, *seq = NULL, *group = NULL, *schemes = NULL, *shapes = NULL, *configs = NULL;
    int quick = 0, predict = 0, reps = 0, o;
    double min_time = 0;
    while ((o = cli_getopt(argc, argv, "o:h", lo)) != -1) {
        char *end;
        switch (o) {
        case O_DEVICE: device = optarg; break;
        case O_QUICK: quick = 1; break;
        case O_BATCH: batch = optarg; break;
        case O_SEQ: seq = optarg; break;
        case O_GROUP: group = optarg; break;
        case O_SCHEMES: schemes = optarg; break;
        case O_SHAPES: shapes = optarg; break;
        case O_CONFIGS: configs = optarg; break;
        case O_MINTIME:
            min_time = strtod(optarg, &end);
            if (*end || !(min_time > 0 && min_time <= 60))
                return cli_usage_error(argv[0], "--min-time '%s': seconds, more than 0", optarg);
            break;
        case O_REPS:
            reps = (int)strtol(optarg, &end, 10);
            if (*end || reps < 1 || reps > 100)
                return cli_usage_error(argv[0], "--repetitions '%s': 1 to 100", optarg);
            break;
        case 'o': out = optarg; break;
        case O_RESUME: resume = optarg; break;
        case O_PREDICT: predict = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return QC_EINPUT;
        }
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    /* the output directory, and the results file in it */
    char dir[4096], results[4200];
    if (resume) {
        const char *slash = strrchr(resume, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - resume) : 1, slash ? resume : ".");
        snprintf(results, sizeof results, "%s", resume);
    } else {
        snprintf(dir, sizeof dir, "%s", out ? out : "out");
        snprintf(results, sizeof results, "%s/results.json", dir);
    }

    qc_msgs err = {0};
    qb_axes ax;
    if (quick)
        qb_axes_quick(&ax);
    else
        qb_axes_default(&ax);
    int rc = 0;
    if (batch)
        rc = qb_parse_ints("--batch", batch, 1, 1 << 20, ax.batch, &ax.n_batch, &err);
    if (!rc && seq)
        rc = qb_parse_ints("--seq", seq, 1, 1 << 20, ax.seq, &ax.n_seq, &err);
    if (!rc && group)
        rc = qb_parse_ints("--group", group, -1, 1 << 20, ax.group, &ax.n_group, &err);
    if (!rc && schemes)
        rc = qb_parse_schemes(schemes, &ax, &err);
    if (!rc && shapes)
        rc = qb_parse_shapes(shapes, &ax, &err);
    if (!rc && configs)
        rc = qb_parse_configs(configs, &ax, &err);
    if (rc)
        return cli_fail(&err, QC_EINPUT);

    qh_host h;
    if (qh_host_discover(&h, &err))
        return cli_fail(&err, QC_ERUNTIME);
    qh_cuda cuda;
    qh_cuda_discover(&cuda);
    qp_catalog cat;
    qp_catalog_load(&cat);
    qp_target t;
    rc = qp_target_resolve(device, &cat, &h, &cuda, &t, &err);
    if (!rc && !t.local && !predict) {
        qc_msgs_addf(&err, "cannot measure on --device %s: %s (add --predict to fill the results from the profile's "
                           "ceilings through the roofline model; every point is then marked predicted)", device, t.why);
        rc = QC_EINPUT;
    }
    if (!rc && t.local && t.cuda_index > 0) {
        qc_msgs_addf(&err, "--device %s: the GPU kernels run on CUDA device 0 (set CUDA_VISIBLE_DEVICES to choose "
                           "another)", device);
        rc = QC_EINPUT;
    }
    ax.cuda = !rc && t.local && t.cuda_index == 0;
    if (rc) {
        qp_target_free(&t);
        qp_catalog_free(&cat);
        return cli_fail(&err, rc);
    }
    /* the profile: the named one, or the one a file on the search path gives the host */
    qp_profile *prof = t.profile;
    if (!strcmp(device, "host")) {
        const qp_profile *file = qp_catalog_find(&cat, "host");
        if (file && file->measured.n_bw && qp_profile_matches(file, QP_BACKEND_CPU, h.cpu.model, -1, -1)) {
            qp_profile_free(prof);
            prof = t.profile = qp_profile_copy(file);
        }
    }
    qp_catalog_free(&cat);
    if (!predict && !prof->measured.n_bw) {
        fprintf(stderr, "qbench: profile %s has no measured ceilings: probing them (--quick)\n", prof->name);
        qp_profile_set_measured(prof, t.device_name);
        if ((rc = ax.cuda ? qb_probe_cuda(prof, 0, cuda.dev[0].cc_major, cuda.dev[0].cc_minor, 1, NULL, &err)
                          : qb_probe_host(prof, &h, 1, NULL, &err))) {
            qp_target_free(&t);
            return cli_fail(&err, rc);
        }
    }

    qb_task *tasks;
    int n;
    if ((rc = qb_plan(&ax, predict, &tasks, &n, &err))) {
        qp_target_free(&t);
        return cli_fail(&err, rc);
    }
    qb_results res;
    if (resume) {
        if ((rc = qb_results_read(resume, &res, &err))) {
            free(tasks);
            qp_target_free(&t);
            return cli_fail(&err, rc);
        }
        const char *was = json_string_value(json_object_get(json_object_get(res.context, "qbench"), "profile"));
        if (!was || strcmp(was, prof->name)) {
            qc_msgs_addf(&err, "%s: these results were made with profile %s, not %s (resume on the same device)",
                         resume, was ? was : "?", prof->name);
            qb_results_free(&res);
            free(tasks);
            qp_target_free(&t);
            return cli_fail(&err, QC_EINPUT);
        }
    } else {
        qb_results_init(&res, make_context(prof, device, predict));
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        qc_msgs_addf(&err, "%s: cannot create it: %s", dir, strerror(errno));
        rc = QC_EINPUT;
    }

    int done = 0;
    if (!rc && predict) {
        for (int i = 0; i < n; i++) {
            qb_task *tk = &tasks[i];
            if (qb_results_find(&res, tk->point.name))
                continue;
            qb_point pt = tk->point;
            qk_cost c = qk_problem_cost(&tk->p);
            pt.bytes = c.bytes;
            pt.flops = c.flops;
            pt.intensity = c.flops / c.bytes;
            qt_model m = {0};
            const char *source;
            qp_profile_model(prof, qk_scheme_name(tk->p.scheme), "cuda", 0, &m.bw_gbs, &m.peak_gops, &m.t0_s, &source);
            double ts = qt_predict(&m, c.bytes, c.flops);
            if (ts > 0) {
                pt.status = QB_PREDICTED;
                pt.median_s = pt.min_s = ts;
                pt.gbs = c.bytes / ts / 1e9;
                pt.gflops = c.flops / ts / 1e9;
                snprintf(pt.bound, sizeof pt.bound, "%s", qt_bound(&m, c.bytes, c.flops));
                pt.ceiling_gbs = m.bw_gbs;
                pt.ceiling_gops = m.peak_gops;
                pt.attainable_gflops = pt.gflops;
            } else {
                pt.status = QB_FAILED;
                snprintf(pt.error, sizeof pt.error, "profile %s has no %s ceiling for %s (the device has no such "
                         "path, or the figure is missing)", prof->name, m.bw_gbs > 0 ? "compute" : "bandwidth",
                         qk_scheme_name(tk->p.scheme));
            }
            snprintf(pt.counters[0].name, sizeof pt.counters[0].name, "bytes_moved");
            snprintf(pt.counters[0].source, sizeof pt.counters[0].source, "model");
            pt.counters[0].available = 1;
            pt.counters[0].value = c.bytes;
            pt.n_counters = 1;
            qb_results_add(&res, &pt);
            done++;
        }
        rc = qb_results_write(&res, results, &err);
    } else if (!rc) {
        struct sigaction sa = {.sa_handler = on_sigint};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        qb_sweep_opts so = {.min_time = min_time > 0 ? min_time : quick ? 0.03 : 0.1,
                            .repetitions = reps ? reps : quick ? 3 : 5, .profile = prof, .out = results, .log = stderr,
                            .tty = isatty(2), .stop = &stop_flag};
        fprintf(stderr, "qbench: sweep of %d points on %s (%s) into %s\n", n, t.device_name, prof->name, results);
        rc = qb_sweep_run(tasks, n, &res, &so, &done, &err);
        signal(SIGINT, SIG_DFL);
        if (!rc && res.n == 0)
            rc = qb_results_write(&res, results, &err); /* an empty sweep still leaves a valid file */
    }
    if (!rc) {
        summary(&res, stdout);
        printf("\n%d point%s run now, %d in %s\n", done, done == 1 ? "" : "s", res.n, results);
    }
    int interrupted = stop_flag && !rc;
    if (interrupted)
        fprintf(stderr, "qbench: interrupted: %d of %d points are in %s; run again with --resume %s\n", res.n, n,
                results, results);
    if (!rc && !interrupted) {
        printf("\nfit, tuned and drawn into %s:\n", dir);
        fflush(stdout);
        qb_results_free(&res);
        res.context = NULL;
        rc = qb_chain(dir, results, prof, stdout, &err);
    }
    qb_results_free(&res);
    free(tasks);
    qp_target_free(&t);
    if (rc)
        return cli_fail(&err, rc);
    return interrupted ? 130 : 0;
}
