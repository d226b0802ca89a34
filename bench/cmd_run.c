/* qbench run: one scheme, one shape, one kernel configuration. Quantizes LLM-like random
 * data, checks the kernel against the fp64 references, then times it. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/cbench.h"
#include "bench/cli.h"
#include "bench/gpu.h"
#include "bench/sweep.h"
#include "hardware/ceilings.h"
#include "hardware/hardware.h"
#include "kernels/qk.h"

static const char help[] =
    "usage: qbench run --scheme S [-m M] [-n N] [-k K] [--group G] [--asym] [options]\n\n"
    "Quantizes random LLM-like data (heavy tails, outlier activation channels) for scheme S,\n"
    "checks the kernel against an fp64 reference on the dequantized operands (a wrong kernel\n"
    "is not timed), then times it through Google Benchmark (the median of 10 repetitions), the weights\n"
    "rotated among copies when they would fit in the last-level cache.\n\n"
    "  --scheme S        fp16, w8a16, w4a16, w8a8, w4a8 or fp8\n"
    "  -m, -n, -k N      Y[M×N] = X[M×K]·W[N×K]ᵀ (default 1 × 4096 × 4096)\n"
    "  --group G         int4 group size: 32, 64, 128 (default) ... or -1 for per channel\n"
    "  --asym            int4 zero points (GPTQ/AWQ asymmetric)\n"
    "  --fp8-scale S     fp8 weight scale: tensor (default) or channel\n"
    "  --smooth A        SmoothQuant with alpha A, applied offline (w8a8, w4a8)\n"
    "  --out f16|f32     output format (default f16)\n"
    "  --device D        host (default) or cuda: the CUDA kernels, timed with CUDA events and the\n"
    "                    L2 cache flushed before each call\n"
    "  --kernel NAME     a kernel from the registry (default: the best the device runs)\n"
    "  --config C        kernel parameters, name=value,... (default: the kernel's defaults)\n"
    "  --threads N       shorthand for --config threads=N\n"
    "  --min-time S      seconds of timing in all: 10 Google Benchmark repetitions (default 1)\n"
    "  --ceilings        also measure streaming-read bandwidth and the fp32 FMA peak in this run\n"
    "                    and report the kernel against them\n"
    "  --seed N          random data seed (default 1)\n"
    "  --json            print one JSON object instead of text\n";

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return cli_usage_error("run", "%s '%s': expected an integer from %ld to %ld", opt, s, lo, hi);
    *out = (int)v;
    return 0;
}

int cmd_run(int argc, char **argv)
{
    enum { O_SCHEME = 256, O_GROUP, O_ASYM, O_FP8, O_SMOOTH, O_OUT, O_KERNEL, O_CONFIG, O_THREADS, O_MINTIME,
           O_CEIL, O_SEED, O_JSON, O_DEVICE };
    static const struct option lo[] = {
        {"scheme", required_argument, 0, O_SCHEME}, {"group", required_argument, 0, O_GROUP},
        {"asym", no_argument, 0, O_ASYM},           {"fp8-scale", required_argument, 0, O_FP8},
        {"smooth", required_argument, 0, O_SMOOTH}, {"out", required_argument, 0, O_OUT},
        {"kernel", required_argument, 0, O_KERNEL}, {"config", required_argument, 0, O_CONFIG},
        {"threads", required_argument, 0, O_THREADS}, {"min-time", required_argument, 0, O_MINTIME},
        {"ceilings", no_argument, 0, O_CEIL},       {"seed", required_argument, 0, O_SEED},
        {"json", no_argument, 0, O_JSON},           {"device", required_argument, 0, O_DEVICE},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    qk_problem p = {.m = 1, .n = 4096, .k = 4096, .group = 128};
    const char *scheme = NULL, *kernel_name = NULL, *config = NULL, *device = "host";
    int threads = 0, ceilings = 0, json = 0, seed = 1, have_group = 0;
    double min_time = 1.0, smooth = -1;
    int o;
    while ((o = cli_getopt(argc, argv, "m:n:k:h", lo)) != -1) {
        char *end;
        switch (o) {
        case 'm':
            if (parse_int("-m", optarg, -(1L << 31) + 1, (1L << 31) - 1, &p.m))
                return QC_EINPUT;
            break;
        case 'n':
            if (parse_int("-n", optarg, -(1L << 31) + 1, (1L << 31) - 1, &p.n))
                return QC_EINPUT;
            break;
        case 'k':
            if (parse_int("-k", optarg, -(1L << 31) + 1, (1L << 31) - 1, &p.k))
                return QC_EINPUT;
            break;
        case O_SCHEME: scheme = optarg; break;
        case O_GROUP:
            if (parse_int("--group", optarg, -1, 1 << 30, &p.group))
                return QC_EINPUT;
            have_group = 1;
            break;
        case O_ASYM: p.asym = 1; break;
        case O_FP8:
            if (strcmp(optarg, "tensor") && strcmp(optarg, "channel"))
                return cli_usage_error(argv[0], "--fp8-scale '%s': use tensor or channel", optarg);
            p.fp8_channel = !strcmp(optarg, "channel");
            break;
        case O_SMOOTH:
            smooth = strtod(optarg, &end);
            if (*end || !(smooth >= 0 && smooth <= 1))
                return cli_usage_error(argv[0], "--smooth '%s': alpha is a number from 0 to 1", optarg);
            break;
        case O_OUT:
            if (strcmp(optarg, "f16") && strcmp(optarg, "f32"))
                return cli_usage_error(argv[0], "--out '%s': use f16 or f32", optarg);
            p.out_f32 = !strcmp(optarg, "f32");
            break;
        case O_KERNEL: kernel_name = optarg; break;
        case O_CONFIG: config = optarg; break;
        case O_THREADS:
            if (parse_int("--threads", optarg, 1, 1024, &threads))
                return QC_EINPUT;
            break;
        case O_MINTIME:
            min_time = strtod(optarg, &end);
            if (*end || !(min_time > 0 && min_time <= 3600))
                return cli_usage_error(argv[0], "--min-time '%s': seconds, more than 0", optarg);
            break;
        case O_CEIL: ceilings = 1; break;
        case O_SEED:
            if (parse_int("--seed", optarg, 0, 1L << 30, &seed))
                return QC_EINPUT;
            break;
        case O_JSON: json = 1; break;
        case O_DEVICE:
            if (strcmp(optarg, "host") && strcmp(optarg, "cuda") && strncmp(optarg, "cuda:", 5))
                return cli_usage_error(argv[0], "--device '%s': use host or cuda", optarg);
            device = optarg;
            break;
        case 'h': fputs(help, stdout); return 0;
        default: return QC_EINPUT;
        }
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    if (!scheme)
        return cli_usage_error(argv[0], "--scheme is required (fp16, w8a16, w4a16, w8a8, w4a8 or fp8)");
    if (qk_scheme_parse(scheme, &p.scheme))
        return cli_usage_error(argv[0], "unknown scheme '%s' (use fp16, w8a16, w4a16, w8a8, w4a8 or fp8)", scheme);
    if (!qk_scheme_grouped(p.scheme)) {
        if (have_group)
            return cli_usage_error(argv[0], "--group applies to w4a16 and w4a8 only");
        p.group = 0;
    }
    if (smooth >= 0 && p.scheme != QK_W8A8 && p.scheme != QK_W4A8)
        return cli_usage_error(argv[0], "--smooth applies to the int8-activation schemes w8a8 and w4a8");
    qc_msgs err = {0};
    if (qk_problem_check(&p, &err))
        return cli_fail(&err, QC_EINPUT);
    int gpu = strcmp(device, "host") != 0;
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
    if (!qk_kernel_supported(kern))
        return cli_usage_error(argv[0], "kernel %s needs CPU features this machine lacks", kern->name);
    qk_config cfg;
    if (qk_config_parse(kern, &p, config, &cfg, &err))
        return cli_fail(&err, QC_EINPUT);
    if (threads) {
        if (gpu)
            return cli_usage_error(argv[0], "--threads applies to CPU kernels");
        cfg.v[qk_param_index(kern, "threads")] = threads;
        if (kern->check(&p, &cfg, why, sizeof why))
            return cli_usage_error(argv[0], "invalid configuration: %s", why);
    }

    /* memory: generation and reference copies, rotated packed weights, activations, output */
    qh_host host;
    if (qh_host_discover(&host, &err))
        return cli_fail(&err, QC_ERUNTIME);
    double llc = qh_host_llc_bytes(&host);
    qk_cost cost = qk_problem_cost(&p);
    /* Cold weights: rotate among copies covering 8× the last-level cache (AMD's L3 is a victim
     * cache that keeps part of a working set only a few times its size). */
    const double cold = 8 * llc;
    int copies = (int)ceil(cold / cost.weight_bytes);
    if (copies < 1)
        copies = 1;
    if (copies > 512)
        copies = 512;
    int check_rows = p.m <= 64 ? p.m : 64;
    size_t nk = (size_t)p.n * p.k, mk = (size_t)p.m * p.k, mn = (size_t)p.m * p.n;
    double need = 8.0 * nk + cost.weight_bytes * copies + 10.0 * mk + 4.0 * mn + 16.0 * check_rows * p.n +
                  (double)kern->workspace(&p, &cfg);
    double avail = (double)sysconf(_SC_AVPHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (need > 0.9 * avail) {
        char b1[32], b2[32];
        qc_msgs_addf(&err, "M=%d N=%d K=%d would need %s of memory; %s is available (use smaller sizes)", p.m,
                     p.n, p.k, qc_format_bytes(need, b1, sizeof b1), qc_format_bytes(avail, b2, sizeof b2));
        return cli_fail(&err, QC_EINPUT);
    }

    float *w = malloc(nk * 4), *x32 = malloc(mk * 4);
    uint16_t *x = malloc(mk * 2);
    qk_fill_weights(w, nk, (uint64_t)seed);
    qk_fill_activations(x, x32, p.m, p.k, (uint64_t)seed + 1);
    /* the rows the check compares: spread over M */
    int *rows = malloc(sizeof(int) * (size_t)check_rows);
    for (int i = 0; i < check_rows; i++)
        rows[i] = (int)((long)i * p.m / check_rows);
    float *xs = malloc((size_t)check_rows * p.k * 4);
    double *ref_orig = malloc((size_t)check_rows * p.n * 8), *ref_deq = malloc((size_t)check_rows * p.n * 8);
    for (int i = 0; i < check_rows; i++)
        memcpy(xs + (size_t)i * p.k, x32 + (size_t)rows[i] * p.k, (size_t)p.k * 4);
    qk_reference_gemm(check_rows, p.n, p.k, xs, w, ref_orig); /* what quantization costs */
    if (smooth >= 0)
        qk_smooth(p.m, p.n, p.k, (float)smooth, x, w);

    if (gpu)
        copies = 1; /* on the GPU the L2 flush before each call keeps the weights cold */
    qk_weights *qw = calloc((size_t)copies, sizeof *qw);
    for (int c = 0; c < copies; c++)
        if (qk_weights_pack_layout(&p, w, gpu ? QK_LAYOUT_CUDA : QK_LAYOUT_CPU, &qw[c], &err))
            return cli_fail(&err, QC_ERUNTIME);
    qk_weights_dequant(&qw[0], w); /* w now holds the dequantized weights */
    float *xd = malloc(mk * 4);
    qk_activations_dequant(&p, x, xd);
    for (int i = 0; i < check_rows; i++)
        memcpy(xs + (size_t)i * p.k, xd + (size_t)rows[i] * p.k, (size_t)p.k * 4);
    qk_reference_gemm(check_rows, p.n, p.k, xs, w, ref_deq); /* what the kernel must compute */
    free(w);
    free(xd);
    free(xs);
    free(x32);

    void *y = qk_alloc(mn * (p.out_f32 ? 4 : 2)), *work = gpu ? NULL : qk_alloc(kern->workspace(&p, &cfg));
    memset(y, 0xff, mn * (p.out_f32 ? 4 : 2));
    char name[128];
    snprintf(name, sizeof name, "%s/m%d/n%d/k%d", kern->name, p.m, p.n, p.k);
    cbench_result t = {0};
    qb_counter gcount[8];
    int rc, n_gcount = 0;
    if (gpu) /* checked and timed in one go: the check below decides whether the timing stands */
        rc = qb_gpu_measure(kern, &cfg, &qw[0], x, p.m, y, min_time / 10, 10, name, &t, gcount, &n_gcount, &err);
    else
        rc = qk_gemm(kern, &cfg, &qw[0], x, p.m, y, work, &err);
    if (rc)
        return cli_fail(&err, rc);
    double kerr = qk_relative_error(&p, y, ref_deq, check_rows, rows);
    double qerr = qk_relative_error(&p, y, ref_orig, check_rows, rows);
    char cfgtext[256];
    qk_config_format(kern, &cfg, cfgtext, sizeof cfgtext);
    char groupdesc[48] = "";
    if (qk_scheme_grouped(p.scheme))
        snprintf(groupdesc, sizeof groupdesc, " g%d %s", p.group, p.asym ? "asym" : "sym");
    int ok = kerr <= qk_error_limit(&p);

    /* The streaming read varies over time in a shared machine: measure it before and after the
     * kernel and use every repetition of both. */
    qh_rate bw = {0}, bw_before = {0}, fma = {0};
    int T = gpu ? 0 : cfg.v[qk_param_index(kern, "threads")], have_fma = 0;
    if (ok && ceilings && !gpu)
        qh_stream_read((size_t)cold, T, 0.25, &bw_before, &err);
    /* timing: Google Benchmark through cbench, 10 repetitions over --min-time */
    if (ok && !gpu && (rc = qb_time_kernel(kern, &cfg, qw, copies, x, p.m, y, work, min_time / 10, 10, name, &t, &err)))
        return cli_fail(&err, rc);
    if (ok && ceilings && gpu) {
        qc_msgs_addf(&err, "--ceilings measures the CPU; on a GPU, 'qbench probe --device cuda:0' measures its ceilings");
        ceilings = 0;
        qc_msgs_print(&err, stderr);
        qc_msgs_free(&err);
    }
    if (ok && ceilings) {
        qh_stream_read((size_t)cold, T, 0.25, &bw, &err);
        const char *isa;
        have_fma = qh_peak(QH_FP32_FMA, T, 0.5, &fma, &isa, &err) == QC_OK;
        qh_rate_merge(&bw, &bw_before);
    }
    const char *mode = gpu ? "l2-flush" : copies * cost.weight_bytes >= cold ? "cold" : "warm";

    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b, s:s}", "scheme", qk_scheme_name(p.scheme),
                              "kernel", kern->name, "config", cfgtext, "m", p.m, "n", p.n, "k", p.k, "correct", ok,
                              "out", p.out_f32 ? "f32" : "f16");
        if (qk_scheme_grouped(p.scheme)) {
            json_object_set_new(j, "group", json_integer(p.group));
            json_object_set_new(j, "asym", json_boolean(p.asym));
        }
        json_object_set_new(j, "bytes", json_real(cost.bytes));
        json_object_set_new(j, "flops", json_real(cost.flops));
        json_object_set_new(j, "weights", json_pack("{s:f, s:i, s:s}", "bytes", cost.weight_bytes, "copies", copies,
                                                    "cache_mode", mode));
        json_object_set_new(j, "kernel_error", json_real(kerr));
        json_object_set_new(j, "kernel_error_limit", json_real(qk_error_limit(&p)));
        json_object_set_new(j, "quant_error", json_real(qerr));
        json_object_set_new(j, "checked_rows", json_integer(check_rows));
        if (smooth >= 0)
            json_object_set_new(j, "smooth_alpha", json_real(smooth));
        if (ok) {
            json_object_set_new(j, "time", json_pack("{s:f, s:f, s:f, s:i, s:I}", "median_s", t.median_s, "min_s",
                                                     t.min_s, "cv", t.cv, "repetitions", t.repetitions,
                                                     "iterations", (json_int_t)t.iterations));
            json_object_set_new(j, "gbs", json_real(cost.bytes / t.median_s / 1e9));
            json_object_set_new(j, "gflops", json_real(cost.flops / t.median_s / 1e9));
        }
        if (ok && ceilings) {
            json_t *c = json_pack("{s:f, s:f, s:f}", "stream_read_gbs", bw.median, "stream_read_best_gbs", bw.best,
                                  "stream_read_cv", bw.cv);
            json_object_set_new(c, "pct_of_stream_read", json_real(100 * cost.bytes / t.median_s / 1e9 / bw.median));
            if (have_fma) {
                json_object_set_new(c, "fma_peak_gflops", json_real(fma.median));
                json_object_set_new(c, "pct_of_fma_peak", json_real(100 * cost.flops / t.median_s / 1e9 / fma.median));
            }
            json_object_set_new(j, "ceilings", c);
        }
        if (n_gcount) { /* measured beside the cost model's bytes */
            json_t *cj = json_object();
            json_object_set_new(cj, "bytes_moved", json_pack("{s:f, s:s}", "value", cost.bytes, "source", "model"));
            for (int i = 0; i < n_gcount; i++)
                json_object_set_new(cj, gcount[i].name,
                                    gcount[i].available
                                        ? json_pack("{s:f, s:s}", "value", gcount[i].value, "source", gcount[i].source)
                                        : json_pack("{s:s, s:s}", "unavailable", gcount[i].reason, "source",
                                                    gcount[i].source));
            json_object_set_new(j, "counters", cj);
        }
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        puts(s);
        free(s);
        json_decref(j);
    } else {
        char b1[32], b2[32], b3[32], b4[32];
        printf("%s%s  M=%d N=%d K=%d  out %s  kernel %s [%s]\n", qk_scheme_name(p.scheme), groupdesc, p.m, p.n, p.k,
               p.out_f32 ? "f32" : "f16", kern->name, cfgtext);
        if (smooth >= 0)
            printf("smooth:  SmoothQuant alpha %.2f applied offline\n", smooth);
        printf("data:    weights %s x %d cop%s (%s: %s of last-level cache), activations %s, output %s\n",
               qc_format_bytes(cost.weight_bytes, b1, sizeof b1), copies, copies == 1 ? "y" : "ies", mode,
               qc_format_bytes(llc, b2, sizeof b2), qc_format_bytes(cost.act_bytes, b3, sizeof b3),
               qc_format_bytes(cost.out_bytes, b4, sizeof b4));
        printf("check:   kernel error %.2e (limit %.0e; fp64 on the dequantized operands, %d of %d rows)\n", kerr,
               qk_error_limit(&p), check_rows, p.m);
        printf("         quantization error %.2e (fp64 on the original fp32 operands)\n", qerr);
        if (!ok) {
            printf("FAILED:  the kernel is wrong; not timed\n");
        } else {
            double gbs = cost.bytes / t.median_s / 1e9, gf = cost.flops / t.median_s / 1e9;
            printf("time:    median %.4g ms, min %.4g ms, cv %.1f%% (Google Benchmark: %d repetitions of %lld calls)\n",
                   t.median_s * 1e3, t.min_s * 1e3, 100 * t.cv, t.repetitions, (long long)t.iterations);
            printf("rate:    %.2f GB/s, %.2f GFLOP/s, intensity %.2f FLOP/byte\n", gbs, gf, cost.flops / cost.bytes);
            for (int i = 0; i < n_gcount; i++) {
                if (gcount[i].available)
                    printf("counter: %-34s %.0f (cupti)%s\n", gcount[i].name, gcount[i].value,
                           strstr(gcount[i].name, "dram__bytes_read") ? "" : "");
                else
                    printf("counter: %-34s unavailable: %s\n", gcount[i].name, gcount[i].reason);
            }
            if (n_gcount)
                printf("counter: %-34s %.0f (model)\n", "bytes moved", cost.bytes);
            if (ceilings) {
                /* medians against medians: the kernel's median time, the ceilings' median repetition */
                printf("ceiling: streaming read %.2f GB/s median (best %.2f, cv %.1f%%) on %d thread%s: kernel at %.1f%%\n",
                       bw.median, bw.best, 100 * bw.cv, T, T == 1 ? "" : "s", 100 * gbs / bw.median);
                if (have_fma)
                    printf("ceiling: fp32 FMA peak %.2f GFLOP/s median (best %.2f, cv %.1f%%) on %d thread%s: kernel at "
                           "%.1f%%\n", fma.median, fma.best, 100 * fma.cv, T, T == 1 ? "" : "s", 100 * gf / fma.median);
            }
        }
    }
    for (int c = 0; c < copies; c++)
        qk_weights_free(&qw[c]);
    free(qw);
    free(x);
    free(y);
    free(work);
    free(rows);
    free(ref_orig);
    free(ref_deq);
    cbench_result_free(&t);
    qc_msgs_free(&err);
    return ok ? 0 : QC_ERUNTIME;
}
