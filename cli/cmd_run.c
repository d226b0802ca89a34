/* qbench run: one scheme, one shape, one kernel configuration: a one-point sweep. The point
 * goes through the sweep's own measure path (bench/measure.c): the same data, the same check,
 * the same cold copies, the same timing, counters and placement. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/pipeline.h"
#include "hardware/ceilings.h"
#include "hardware/hardware.h"

static const char help[] =
    "usage: qbench run --scheme S [-m M] [-n N] [-k K] [--group G] [--asym] [options]\n\n"
    "Measures one point exactly as a sweep measures each of its points: LLM-like random data\n"
    "(heavy tails, outlier activation channels) quantized for scheme S, a check of the kernel\n"
    "against the fp64 reference on the dequantized operands (a wrong kernel is not timed), then\n"
    "Google Benchmark timing (rounds of 10 repetitions, until one is within --max-cv) with the\n"
    "weights rotated among copies that exceed the last-level cache (or warm), the counters, and\n"
    "the point's place under the roofline.\n\n"
    "  --scheme S        fp16, bf16, w8a16, w4a16, w8a8, w4a8 or fp8\n"
    "  -m, -n, -k N      Y[M×N] = X[M×K]·W[N×K]ᵀ (default 1 × 4096 × 4096)\n"
    "  --group G         int4 group size: 32, 64, 128 (default) ... or -1 for per channel\n"
    "  --asym            int4 zero points (GPTQ/AWQ asymmetric)\n"
    "  --fp8-scale S     fp8 weight scale: tensor (default) or channel\n"
    "  --smooth A        SmoothQuant with alpha A, applied offline (w8a8, w4a8)\n"
    "  --out f16|f32     output format (default f16: 16-bit, bf16 when the activations are)\n"
    "  --act fp16|bf16   the activations of a quantized scheme (default: the model's torch_dtype,\n"
    "                    else fp16); fp16 and bf16 take their own\n"
    "  --device D        host (default) or cuda: the CUDA kernels, timed with CUDA events and the\n"
    "                    L2 cache flushed before each call\n"
    "  --kernel NAME     a kernel from the registry (default: the best the device runs)\n"
    "  --config C        kernel parameters, name=value,... (default: the kernel's defaults)\n"
    "  --threads N       shorthand for --config threads=N\n"
    "  --min-time S      seconds of timing per round: 10 Google Benchmark repetitions (default 1)\n" CLI_TIMING_HELP
    "  --full-check      check every row and output channel (the sweep checks 8 rows x 256 channels)\n"
    "  --ceilings        also measure streaming-read bandwidth and the peak of the kernel's number\n"
    "                    format in this run, and report the kernel against them\n"
    "  --seed N          mixed into the data (default 0: the data a sweep uses)\n"
    "  --model DIR       a Hugging Face model directory: with --layer, that layer's shape and its\n"
    "                    first block's weights instead of random ones\n"
    "  --layer NAME      the model's linear layer (self_attn.q_proj, mlp.down_proj, ...)\n"
    "  --fused           with --model: the fused layers (self_attn.qkv_proj, mlp.gate_up_proj)\n"
    "  --acts FILE       captured activations (safetensors, 2-D [tokens, K] tensors)\n"
    "  --json            print one JSON object instead of text\n";

/* The streaming read and the peak of the kernel's format, measured in this run. */
typedef struct ceilings {
    int have_bw, have_peak;
    qh_rate bw, peak;
    const char *format;
} ceilings;

static void print_json(const qb_point *pt, const qk_problem *p, const ceilings *c, int ceil_asked)
{
    qk_cost cost = qk_problem_cost(p);
    const int ok = pt->status == QB_OK;
    json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b, s:s}", "scheme", qk_scheme_name(p->scheme), "kernel",
                          pt->kernel, "config", pt->config, "m", p->m, "n", p->n, "k", p->k, "correct", ok, "out",
                          qk_problem_out_name(p));
    json_object_set_new(j, "act", json_string(qk_problem_act_name(p)));
    if (qk_scheme_grouped(p->scheme)) {
        json_object_set_new(j, "group", json_integer(p->group));
        json_object_set_new(j, "asym", json_boolean(p->asym));
    }
    if (p->scheme == QK_FP8)
        json_object_set_new(j, "fp8_scale", json_string(p->fp8_channel ? "channel" : "tensor"));
    json_object_set_new(j, "bytes", json_real(cost.bytes));
    json_object_set_new(j, "flops", json_real(cost.flops));
    if (pt->kernel_error >= 0) {
        json_object_set_new(j, "kernel_error", json_real(pt->kernel_error));
        json_object_set_new(j, "kernel_error_limit", json_real(qk_error_limit(p)));
        json_object_set_new(j, "quant_error", json_real(pt->quant_error));
        json_object_set_new(j, "sqnr_db", json_real(qb_sqnr_db(pt->quant_error)));
        json_object_set_new(j, "weight_error", json_real(pt->weight_error));
        json_object_set_new(j, "weight_sqnr_db", json_real(qb_sqnr_db(pt->weight_error)));
        json_object_set_new(j, "checked_rows", json_integer(pt->checked_rows));
        json_object_set_new(j, "checked_cols", json_integer(pt->checked_cols));
    }
    if (pt->smooth >= 0)
        json_object_set_new(j, "smooth_alpha", json_real(pt->smooth));
    if (*pt->layer)
        json_object_set_new(j, "layer", json_string(pt->layer));
    if (!ok)
        json_object_set_new(j, "error", json_string(pt->error));
    if (ok) {
        json_object_set_new(j, "weights", json_pack("{s:f, s:i, s:s}", "bytes", cost.weight_bytes, "copies",
                                                    pt->copies, "cache_mode", pt->cache_mode));
        json_object_set_new(j, "time", json_pack("{s:f, s:f, s:f, s:i, s:I, s:i, s:b}", "median_s", pt->median_s,
                                                 "min_s", pt->min_s, "cv", pt->cv, "repetitions", pt->repetitions,
                                                 "iterations", (json_int_t)pt->iterations, "rounds", pt->rounds,
                                                 "noisy", pt->noisy));
        json_t *ph = qb_point_phase(pt);
        if (ph)
            json_object_set_new(j, "phase", ph);
        json_object_set_new(j, "gbs", json_real(pt->gbs));
        json_object_set_new(j, "gflops", json_real(pt->gflops));
        if (pt->attainable_gflops > 0)
            json_object_set_new(j, "roofline", json_pack("{s:s, s:s, s:f, s:f, s:f, s:f}", "bound", pt->bound,
                                                        "format", pt->format, "gbs", pt->ceiling_gbs, "gops",
                                                        pt->ceiling_gops, "attainable_gflops",
                                                        pt->attainable_gflops, "pct_of_attainable",
                                                        pt->pct_of_ceiling));
    }
    if (ok && ceil_asked) {
        json_t *cj = json_object();
        if (c->have_bw) {
            json_object_set_new(cj, "stream_read_gbs", json_real(c->bw.median));
            json_object_set_new(cj, "stream_read_best_gbs", json_real(c->bw.best));
            json_object_set_new(cj, "stream_read_cv", json_real(c->bw.cv));
            json_object_set_new(cj, "pct_of_stream_read", json_real(100 * pt->gbs / c->bw.median));
        }
        if (c->have_peak) {
            json_object_set_new(cj, "peak_format", json_string(c->format));
            json_object_set_new(cj, "peak_gops", json_real(c->peak.median));
            json_object_set_new(cj, "pct_of_peak", json_real(100 * pt->gflops / c->peak.median));
        }
        json_object_set_new(j, "ceilings", cj);
    }
    json_t *cj = json_object();
    for (int i = 0; i < pt->n_counters; i++) {
        const qb_counter *k = &pt->counters[i];
        json_object_set_new(cj, k->name,
                            k->available ? json_pack("{s:f, s:s}", "value", k->value, "source", k->source)
                                         : json_pack("{s:s, s:s}", "unavailable", k->reason, "source", k->source));
    }
    json_object_set_new(j, "counters", cj);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    puts(s);
    free(s);
    json_decref(j);
}

static void print_text(const qb_point *pt, const qk_problem *p, double llc, const ceilings *c, int ceil_asked)
{
    qk_cost cost = qk_problem_cost(p);
    char groupdesc[48] = "", b1[32], b2[32], b3[32], b4[32];
    if (qk_scheme_grouped(p->scheme))
        snprintf(groupdesc, sizeof groupdesc, " g%d %s", p->group, p->asym ? "asym" : "sym");
    else if (p->scheme == QK_FP8)
        snprintf(groupdesc, sizeof groupdesc, " per-%s scale", p->fp8_channel ? "channel" : "tensor");
    printf("%s%s  M=%d N=%d K=%d  in %s out %s  kernel %s [%s]\n", qk_scheme_name(p->scheme), groupdesc, p->m, p->n,
           p->k, qk_problem_act_name(p), qk_problem_out_name(p), pt->kernel, pt->config);
    if (*pt->layer)
        printf("layer:   %s\n", pt->layer);
    if (pt->smooth >= 0)
        printf("smooth:  SmoothQuant alpha %.2f applied offline\n", pt->smooth);
    if (pt->kernel_error < 0) {
        printf("FAILED:  %s\n", pt->error);
        return;
    }
    if (pt->status == QB_OK)
        printf("data:    weights %s x %d cop%s (%s: %s of last-level cache), activations %s, output %s\n",
               qc_format_bytes(cost.weight_bytes, b1, sizeof b1), pt->copies, pt->copies == 1 ? "y" : "ies",
               pt->cache_mode, qc_format_bytes(llc, b2, sizeof b2), qc_format_bytes(cost.act_bytes, b3, sizeof b3),
               qc_format_bytes(cost.out_bytes, b4, sizeof b4));
    printf("check:   kernel error %.2e (limit %.0e; fp64 on the dequantized operands, %d of %d rows, %d of %d "
           "channels)\n", pt->kernel_error, qk_error_limit(p), pt->checked_rows, p->m, pt->checked_cols, p->n);
    printf("         quantization error %.2e, SQNR %.1f dB (fp64 on the original fp32 operands); weights %.2e, "
           "SQNR %.1f dB\n", pt->quant_error, qb_sqnr_db(pt->quant_error), pt->weight_error,
           qb_sqnr_db(pt->weight_error));
    if (pt->status != QB_OK) {
        printf("FAILED:  the kernel is wrong; not timed\n");
        return;
    }
    printf("time:    median %.4g ms, min %.4g ms, cv %.1f%% (Google Benchmark: %d repetitions of %lld calls; %d "
           "round%s)%s\n", pt->median_s * 1e3, pt->min_s * 1e3, 100 * pt->cv, pt->repetitions, pt->iterations,
           pt->rounds, pt->rounds == 1 ? "" : "s", pt->noisy ? " NOISY: the cv stayed above --max-cv" : "");
    if (pt->phase_waited_s > 0 || pt->phase_redone || pt->phase_unusual)
        printf("phase:   waited %.1f s for the machine's usual phase, timed again %d time%s%s\n", pt->phase_waited_s,
               pt->phase_redone, pt->phase_redone == 1 ? "" : "s",
               pt->phase_unusual ? "; UNUSUAL: the machine was not in its usual phase around the timing" : "");
    const qh_phase_read *rd = &pt->phase_read;
    if (rd->gops > 0)
        printf("phase:   after the timing, the cores' fp32 FMA ran at %.1f GOP/s (usual %.1f) and the DRAM read at "
               "%.1f GB/s (usual %.1f)\n", rd->gops, rd->usual_gops, rd->gbs, rd->usual_gbs);
    printf("rate:    %.2f GB/s, %.2f GFLOP/s, intensity %.2f FLOP/byte\n", pt->gbs, pt->gflops, pt->intensity);
    if (pt->attainable_gflops > 0)
        printf("roof:    %s-bound under DRAM read %.1f GB/s and %s %.1f GOP/s (the profile's): %.1f%% of the "
               "attainable %.2f GFLOP/s\n", pt->bound, pt->ceiling_gbs, pt->format, pt->ceiling_gops,
               pt->pct_of_ceiling, pt->attainable_gflops);
    for (int i = 0; i < pt->n_counters; i++) {
        const qb_counter *k = &pt->counters[i];
        if (k->available)
            printf("counter: %-34s %.0f (%s)\n", k->name, k->value, k->source);
        else
            printf("counter: %-34s unavailable: %s\n", k->name, k->reason);
    }
    if (ceil_asked && c->have_bw) /* medians against medians: the kernel's median, the ceilings' median repetition */
        printf("ceiling: streaming read %.2f GB/s median (best %.2f, cv %.1f%%), this run: kernel at %.1f%%\n",
               c->bw.median, c->bw.best, 100 * c->bw.cv, 100 * pt->gbs / c->bw.median);
    if (ceil_asked && c->have_peak)
        printf("ceiling: %s peak %.2f GOP/s median (best %.2f, cv %.1f%%), this run: kernel at %.1f%%\n", c->format,
               c->peak.median, c->peak.best, 100 * c->peak.cv, 100 * pt->gflops / c->peak.median);
}

/* What the command line asked for: one point. */
typedef struct run_args {
    qk_problem p;
    const char *scheme, *kernel_name, *config, *device, *cmd;
    int threads, ceil_asked, json, seed, full, warm;
    double smooth, min_time;
    qb_measure_opts mo;
    const qm_model *mod; /* --model, and its layer li */
    int li;
    const qm_acts *act;
} run_args;
static int run_point(const run_args *ra);

int cmd_run(int argc, char **argv)
{
    enum { O_SCHEME = 256, O_GROUP, O_ASYM, O_FP8, O_SMOOTH, O_OUT, O_KERNEL, O_CONFIG, O_THREADS, O_MINTIME,
           O_CEIL, O_SEED, O_JSON, O_DEVICE, O_FULL, O_CACHE, O_MAXCV, O_BUDGET, O_MODEL, O_LAYER, O_FUSED, O_ACTS, O_ACT };
    static const struct option lo[] = {
        {"scheme", required_argument, 0, O_SCHEME}, {"group", required_argument, 0, O_GROUP},
        {"asym", no_argument, 0, O_ASYM},           {"fp8-scale", required_argument, 0, O_FP8},
        {"smooth", required_argument, 0, O_SMOOTH}, {"out", required_argument, 0, O_OUT},
        {"kernel", required_argument, 0, O_KERNEL}, {"config", required_argument, 0, O_CONFIG},
        {"threads", required_argument, 0, O_THREADS}, {"min-time", required_argument, 0, O_MINTIME},
        {"ceilings", no_argument, 0, O_CEIL},       {"seed", required_argument, 0, O_SEED},
        {"json", no_argument, 0, O_JSON},           {"device", required_argument, 0, O_DEVICE},
        {"full-check", no_argument, 0, O_FULL},     {"help", no_argument, 0, 'h'},
        {"cache", required_argument, 0, O_CACHE},   {"max-cv", required_argument, 0, O_MAXCV},
        {"budget", required_argument, 0, O_BUDGET}, {"model", required_argument, 0, O_MODEL},
        {"layer", required_argument, 0, O_LAYER},   {"fused", no_argument, 0, O_FUSED},
        {"acts", required_argument, 0, O_ACTS},     {"act", required_argument, 0, O_ACT},
        {0, 0, 0, 0}};
    qk_problem p = {.m = 1, .n = 4096, .k = 4096, .group = 128};
    const char *scheme = NULL, *kernel_name = NULL, *config = NULL, *device = "host", *model = NULL, *layer = NULL,
               *acts = NULL, *act_type = NULL;
    int fused = 0, have_shape = 0;
    int threads = 0, ceil_asked = 0, json = 0, seed = 0, have_group = 0, full = 0, warm = 0;
    qb_measure_opts mo = {.max_cv = 0.03};
    double min_time = 1.0, smooth = -1;
    int o, bad = 0;
    qc_msgs err = {0};
    while ((o = cli_getopt(argc, argv, "m:n:k:h", lo)) != -1) {
        switch (o) {
        case 'm': bad |= qc_parse_int(optarg, INT_MIN + 1, INT_MAX, "-m", &p.m, &err); break;
        case 'n': bad |= qc_parse_int(optarg, INT_MIN + 1, INT_MAX, "-n", &p.n, &err), have_shape = 1; break;
        case 'k': bad |= qc_parse_int(optarg, INT_MIN + 1, INT_MAX, "-k", &p.k, &err), have_shape = 1; break;
        case O_MODEL: model = optarg; break;
        case O_LAYER: layer = optarg; break;
        case O_FUSED: fused = 1; break;
        case O_ACTS: acts = optarg; break;
        case O_ACT: act_type = optarg; break;
        case O_SCHEME: scheme = optarg; break;
        case O_GROUP:
            bad |= qc_parse_int(optarg, -1, 1 << 30, "--group", &p.group, &err);
            have_group = 1;
            break;
        case O_ASYM: p.asym = 1; break;
        case O_FP8:
            if (strcmp(optarg, "tensor") && strcmp(optarg, "channel"))
                return cli_usage_error(argv[0], "--fp8-scale '%s': use tensor or channel", optarg);
            p.fp8_channel = !strcmp(optarg, "channel");
            break;
        case O_SMOOTH: bad |= qc_parse_double(optarg, 0, 1, "--smooth", &smooth, &err); break;
        case O_OUT:
            if (strcmp(optarg, "f16") && strcmp(optarg, "f32"))
                return cli_usage_error(argv[0], "--out '%s': use f16 or f32", optarg);
            p.out_f32 = !strcmp(optarg, "f32");
            break;
        case O_KERNEL: kernel_name = optarg; break;
        case O_CONFIG: config = optarg; break;
        case O_THREADS: bad |= qc_parse_int(optarg, 1, 1024, "--threads", &threads, &err); break;
        case O_MINTIME: bad |= qc_parse_double(optarg, 1e-6, 3600, "--min-time", &min_time, &err); break;
        case O_CEIL: ceil_asked = 1; break;
        case O_SEED: bad |= qc_parse_int(optarg, 0, 1 << 30, "--seed", &seed, &err); break;
        case O_JSON: json = 1; break;
        case O_FULL: full = 1; break;
        case O_CACHE:
        case O_MAXCV:
        case O_BUDGET:
            bad |= cli_timing_option(o == O_CACHE ? "cache" : o == O_MAXCV ? "max-cv" : "budget", optarg, &mo, &warm,
                                     &err);
            break;
        case O_DEVICE:
            if (strcmp(optarg, "host") && strcmp(optarg, "cuda") && strncmp(optarg, "cuda:", 5))
                return cli_usage_error(argv[0], "--device '%s': use host or cuda", optarg);
            device = !strcmp(optarg, "cuda") ? "cuda:0" : optarg;
            break;
        case 'h': fputs(help, stdout); return 0;
        default: return QC_EINPUT;
        }
        if (bad)
            return cli_fail(&err, QC_EINPUT);
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    if (!scheme)
        return cli_usage_error(argv[0], "--scheme is required (%s)", qk_scheme_list());
    if (qk_scheme_parse(scheme, &p.scheme))
        return cli_usage_error(argv[0], "unknown scheme '%s' (use %s)", scheme, qk_scheme_list());
    if (!qk_scheme_grouped(p.scheme)) {
        if (have_group)
            return cli_usage_error(argv[0], "--group applies to w4a16 and w4a8 only");
        p.group = 0;
    }
    if (smooth >= 0 && p.scheme != QK_W8A8 && p.scheme != QK_W4A8)
        return cli_usage_error(argv[0], "--smooth applies to the int8-activation schemes w8a8 and w4a8");
    if (!model != !layer)
        return cli_usage_error(argv[0], "--model and --layer go together (the layer of that model)");
    if (fused && !model)
        return cli_usage_error(argv[0], "--fused applies to --model's layers");
    if (layer && have_shape)
        return cli_usage_error(argv[0], "--layer gives N and K: leave out -n and -k");
    qm_model *mod = NULL;
    qm_acts *act = NULL;
    int li = -1;
    if (model) {
        if (qm_model_open(model, fused, &mod, &err))
            return cli_fail(&err, QC_EINPUT);
        const qm_arch *a = qm_model_arch(mod);
        if ((li = qm_model_find_layer(mod, layer)) < 0) {
            char names[1024] = "";
            for (int i = 0; i < a->n_layer; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", a->layer[i].name);
            qm_model_close(mod);
            return cli_usage_error(argv[0], "--layer '%s': %s has no such linear layer (%s)", layer, model, names);
        }
        p.n = a->layer[li].n;
        p.k = a->layer[li].k;
        if (!qm_model_has_weights(mod))
            fprintf(stderr, "qbench: %s has no *.safetensors: layer %s's shape, on synthetic weights\n", model, layer);
    }
    int bf16 = 0;
    if (cli_act_option(act_type, mod, &bf16, &err) || (acts && qm_acts_open(acts, &act, &err))) {
        qm_model_close(mod);
        return cli_fail(&err, QC_EINPUT);
    }
    if (bf16 && p.scheme == QK_FP16 && act_type) {
        qm_model_close(mod);
        return cli_usage_error(argv[0], "--act bf16: fp16 multiplies fp16 activations (the bf16 scheme takes bf16)");
    }
    p.act_bf16 = p.scheme == QK_BF16 || (p.scheme != QK_FP16 && bf16);
    const run_args ra = {.p = p, .scheme = scheme, .kernel_name = kernel_name, .config = config, .device = device,
                         .cmd = argv[0], .threads = threads, .ceil_asked = ceil_asked, .json = json, .seed = seed,
                         .full = full, .warm = warm, .smooth = smooth, .min_time = min_time, .mo = mo, .mod = mod,
                         .li = li, .act = act};
    int rc = run_point(&ra);
    qm_model_close(mod);
    qm_acts_close(act);
    return rc;
}

/* The point, measured and printed; an exit code. */
static int run_point(const run_args *ra)
{
    qk_problem p = ra->p;
    qb_measure_opts mo = ra->mo;
    const char *scheme = ra->scheme, *kernel_name = ra->kernel_name, *config = ra->config, *device = ra->device;
    int threads = ra->threads, ceil_asked = ra->ceil_asked;
    qc_msgs err = {0};
    char *argv[1] = {(char *)ra->cmd};
    if (qk_problem_check(&p, &err))
        return cli_fail(&err, QC_EINPUT);
    const int gpu = strcmp(device, "host") != 0;
    char why[256];
    if (gpu && !qk_cuda_available_here(why, sizeof why)) {
        qc_msgs_addf(&err, "--device %s: %s (run on a machine with an NVIDIA GPU, or use --device host)", device, why);
        return cli_fail(&err, QC_EINPUT);
    }
    const qk_kernel *kern = kernel_name ? qk_kernel_find(kernel_name)
                            : gpu       ? qk_kernel_best_cuda(p.scheme)
                                        : qk_kernel_best(p.scheme);
    if (!kern)
        return cli_usage_error(argv[0], "unknown kernel '%s' (qk registry names look like w4a16.avx2)", kernel_name);
    if (qk_kernel_is_cuda(kern) != gpu)
        return cli_usage_error(argv[0], "kernel %s runs on %s: give --device %s", kern->name, gpu ? "the CPU" : "a GPU",
                               gpu ? "host" : "cuda");
    if (kern->scheme != p.scheme)
        return cli_usage_error(argv[0], "kernel %s computes %s, not %s", kern->name, qk_scheme_name(kern->scheme),
                               scheme);
    if (!qk_kernel_supported(kern)) {
        qk_kernel_why_not(kern, why, sizeof why);
        return cli_usage_error(argv[0], "kernel %s does not run here: %s (qbench kernels lists what does)", kern->name,
                               why);
    }
    qk_config cfg;
    if (qk_config_parse(kern, &p, config, &cfg, &err))
        return cli_fail(&err, QC_EINPUT);
    if (threads) {
        if (gpu)
            return cli_usage_error(argv[0], "--threads applies to CPU kernels");
        qk_config_set(kern, &cfg, "threads", threads);
        if (qk_kernel_check(kern, &p, &cfg, why, sizeof why))
            return cli_usage_error(argv[0], "invalid configuration: %s", why);
    }
    if (ceil_asked && gpu) {
        fprintf(stderr, "qbench: --ceilings measures the CPU; on a GPU, 'qbench probe --device cuda:0' measures its "
                        "ceilings\n");
        ceil_asked = 0;
    }

    /* the device's profile places the point (no probing: a run is one point) */
    qp_target t;
    int rc = cli_device_profile(device, 0, &t, &err);
    if (rc) {
        qp_target_free(&t);
        return cli_fail(&err, rc);
    }
    qh_host host;
    double llc = qh_host_discover(&host, NULL) == QC_OK ? qh_host_llc_bytes(&host) : 0;
    ceilings c = {.format = qk_kernel_format(kern, &cfg)};
    const int T = qk_config_get(kern, &cfg, "threads", 1);
    qc_msgs skip = {0};
    if (ceil_asked) /* the streaming read varies over time in a shared machine: before and after */
        c.have_bw = qh_stream_read((size_t)(8 * llc), T, 0.25, &c.bw, &skip) == QC_OK;

    /* the one measure path */
    qb_task task;
    qb_task_init(&task, &p, kern, &cfg, ra->smooth, ra->warm);
    if (ra->mod) {
        task.layer = ra->li;
        snprintf(task.point.layer, sizeof task.point.layer, "%s", qm_model_arch(ra->mod)->layer[ra->li].name);
        qb_point_name(&task.point);
    }
    mo.model = ra->mod;
    mo.acts = ra->act;
    mo.min_time = ra->min_time / 10;
    mo.repetitions = 10;
    mo.profile = t.profile;
    mo.full_check = ra->full;
    mo.seed = (uint64_t)ra->seed;
    qb_bench *b = qb_bench_create(&mo);
    qb_point pt;
    rc = qb_measure(b, &task, &pt, &err);
    qb_bench_destroy(b);
    if (rc == QC_EINPUT) { /* the point cannot be run as given: not a measurement */
        qb_point_free(&pt);
        qp_target_free(&t);
        return cli_fail(&err, rc);
    }
    qc_msgs_free(&err);

    if (ceil_asked && pt.status == QB_OK) {
        qh_rate after;
        if (c.have_bw && qh_stream_read((size_t)(8 * llc), T, 0.25, &after, &skip) == QC_OK)
            qh_rate_merge(&c.bw, &after);
        for (int f = 0; f < QH_FORMAT_COUNT; f++) {
            const char *isa;
            if (!strcmp(qh_format_name((qh_format)f), c.format))
                c.have_peak = qh_peak((qh_format)f, T, 0.5, &c.peak, &isa, &skip) == QC_OK;
        }
    }
    qc_msgs_free(&skip);
    if (ra->json)
        print_json(&pt, &p, &c, ceil_asked);
    else
        print_text(&pt, &p, llc, &c, ceil_asked);
    rc = pt.status == QB_OK ? 0 : QC_ERUNTIME;
    if (rc && pt.kernel_error < 0)
        fprintf(stderr, "qbench: %s\n", pt.error);
    qb_point_free(&pt);
    qp_target_free(&t);
    return rc;
}
