/* qbench sweep: the whole pipeline over a grid of schemes × shapes × M × groups × configurations
 * (cli/pipeline.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/pipeline.h"

static const char help[] =
    "usage: qbench sweep [--device host|NAME|cuda:N|cuda:all] [--quick] [axes] [--model DIR [--fused]] [--acts FILE]\n"
    "                    [--act fp16|bf16] [--holdout SHAPES] [-o DIR] [--resume FILE] [--shard I/N|auto] [--predict]\n\n"
    "Runs every point of the axes' cartesian product (group only for grouped schemes; M = batch ×\n"
    "seq, deduplicated): checks it against the fp64 reference (a wrong result is recorded as\n"
    "failed and not timed), times it through Google Benchmark with the weights cold, reads the\n"
    "PAPI counters it can, and places it against the profile's ceilings (probing them first,\n"
    "quickly, when the profile has none). DIR/results.json is written after every point\n"
    "(atomically); Ctrl-C (or SIGTERM, SIGHUP) stops after the current point with everything\n"
    "finished written. Where a cell's two fastest schemes are within 2x of each other, they are\n"
    "timed again side by side (A, B, A, B: a close race), and the race names the winner or a tie.\n"
    "Then, into DIR: the roofline fit (profile-NAME.yaml), the tuned dispatch tables\n"
    "(qbench_dispatch_NAME.h, .json, vllm_NAME.json) and the plots (plots/, with gnuplot).\n\n"
    "  --device NAME     host (default), cuda:0, or a profile: a profile no local device matches can\n"
    "                    only be predicted (--predict); cuda:all: one worker process per visible GPU\n"
    "                    (all of one type), each pinned with CUDA_VISIBLE_DEVICES and running one\n"
    "                    shard (logs in DIR/shard-I-of-N.log), merged into DIR/results.json at the end\n"
    "  --quick           a small grid: batch 1,4,16,64,256; seq 1; group 128; every scheme;\n"
    "                    llama-3-8b q (4096x4096) and down (4096x14336); short timings\n"
    "  --batch LIST      e.g. 1,2,4 or 1:256 (powers of two) or 1:256:*4 or 64:512:64\n"
    "  --seq LIST        sequence lengths (1 is decode; prefill is batch × seq)\n"
    "  --group LIST      int4 group sizes, -1 for per channel (default 128; quick 128)\n"
    "  --schemes LIST    fp16,bf16,w8a16,w4a16,w8a8,w4a8,fp8 (default: all)\n"
    "  --shapes LIST     NxK or llama-2-7b, llama-3-8b, mistral-7b, qwen2.5-7b, llama-2-70b,\n"
    "                    llama-3-70b (each also -fused)\n"
    "  --model DIR       a Hugging Face model directory (config.json, *.safetensors): its linear\n"
    "                    layers' shapes (one point per distinct N x K, named by its layer) and\n"
    "                    their weights, quantized for each scheme (only config.json: synthetic\n"
    "                    weights); the summary adds the totals of a pass through the model\n"
    "  --fused           with --model: qkv and gate_up as one GEMM each, as engines run them\n"
    "  --acts FILE       captured activations: a safetensors file of 2-D [tokens, K] tensors; a K\n"
    "                    it lacks gets synthetic ones\n"
    "  --act TYPE        fp16 or bf16: the activations (and 16-bit outputs) of the quantized schemes\n"
    "                    (default: the model's torch_dtype, else fp16); the baselines keep their own:\n"
    "                    fp16 is fp16 x fp16, bf16 is bf16 x bf16\n"
    "  --holdout LIST    shapes (as --shapes) measured like the others but kept out of the fit: the\n"
    "                    model's prediction error on them is reported\n"
    "  --holdout-max-m M measure the held-out shapes only at M up to M (default: every M)\n"
    "  --configs C       default (each scheme's best kernel, default configuration), pruned\n"
    "                    (every SIMD kernel, each parameter varied alone), all (every combination)\n"
    "  --min-time S      seconds per repetition (default 0.1; quick 0.03)\n"
    "  --repetitions N   Google Benchmark repetitions (default 5; quick 3)\n" CLI_TIMING_HELP
    "  -o, --output DIR  where everything goes (default out)\n"
    "  --resume FILE     keep FILE's finished points and run the rest into it (and its directory);\n"
    "                    with cuda:all, each worker resumes its shard's file beside FILE\n"
    "  --shard I/N       run part I of N (0 <= I < N) of the run set into DIR/shard-I-of-N/results.json,\n"
    "                    the parts balanced by predicted cost; no fit or tables until `qbench merge`\n"
    "  --shard auto      I and N from the launcher: SLURM_ARRAY_TASK_ID (with SLURM_ARRAY_TASK_MIN,\n"
    "                    SLURM_ARRAY_TASK_COUNT), SLURM_PROCID/SLURM_NTASKS, OMPI_COMM_WORLD_RANK/SIZE\n"
    "                    or PMI_RANK/PMI_SIZE, in that order\n"
    "  --predict         fill the results from the profile's ceilings through the roofline model,\n"
    "                    every point marked predicted\n"
    "Exit: 0 done, 2 bad input, 1 failure, 128 + the signal when SIGINT (130), SIGTERM (143) or SIGHUP\n"
    "(129) stopped it after the current point (resume with --resume FILE). One sweep at a time writes\n"
    "into a folder: a second one is refused, naming the first.\n";

int cmd_sweep(int argc, char **argv)
{
    enum { O_DEVICE = 256, O_QUICK, O_BATCH, O_SEQ, O_GROUP, O_SCHEMES, O_SHAPES, O_CONFIGS, O_MINTIME, O_REPS,
           O_RESUME, O_PREDICT, O_CACHE, O_MAXCV, O_BUDGET, O_HOLDOUT, O_HOLDOUT_M, O_SHARD, O_MODEL, O_FUSED, O_ACTS, O_ACT };
    static const struct option lo[] = {
        {"device", required_argument, 0, O_DEVICE},   {"quick", no_argument, 0, O_QUICK},
        {"batch", required_argument, 0, O_BATCH},     {"seq", required_argument, 0, O_SEQ},
        {"group", required_argument, 0, O_GROUP},     {"schemes", required_argument, 0, O_SCHEMES},
        {"shapes", required_argument, 0, O_SHAPES},   {"configs", required_argument, 0, O_CONFIGS},
        {"min-time", required_argument, 0, O_MINTIME}, {"repetitions", required_argument, 0, O_REPS},
        {"output", required_argument, 0, 'o'},        {"resume", required_argument, 0, O_RESUME},
        {"predict", no_argument, 0, O_PREDICT},       {"help", no_argument, 0, 'h'},
        {"cache", required_argument, 0, O_CACHE},     {"max-cv", required_argument, 0, O_MAXCV},
        {"budget", required_argument, 0, O_BUDGET},   {"holdout", required_argument, 0, O_HOLDOUT},
        {"shard", required_argument, 0, O_SHARD},     {"holdout-max-m", required_argument, 0, O_HOLDOUT_M},
        {"model", required_argument, 0, O_MODEL},     {"fused", no_argument, 0, O_FUSED},
        {"acts", required_argument, 0, O_ACTS},       {"act", required_argument, 0, O_ACT},
        {0, 0, 0, 0}};
    const char *device = "host", *out = NULL, *resume = NULL, *model = NULL, *acts = NULL, *act_type = NULL;
    const char *batch = NULL, *seq = NULL, *group = NULL, *schemes = NULL, *shapes = NULL, *configs = NULL,
               *holdout = NULL, *shard = NULL;
    int quick = 0, predict = 0, reps = 0, warm = 0, holdout_m = 0, fused = 0, o;
    double min_time = 0;
    qb_measure_opts timing = {.max_cv = 0.03};
    qc_msgs err = {0};
    while ((o = cli_getopt(argc, argv, "o:h", lo)) != -1) {
        switch (o) {
        case O_DEVICE: device = optarg; break;
        case O_QUICK: quick = 1; break;
        case O_BATCH: batch = optarg; break;
        case O_SEQ: seq = optarg; break;
        case O_GROUP: group = optarg; break;
        case O_SCHEMES: schemes = optarg; break;
        case O_SHAPES: shapes = optarg; break;
        case O_CONFIGS: configs = optarg; break;
        case O_HOLDOUT: holdout = optarg; break;
        case O_SHARD: shard = optarg; break;
        case O_MODEL: model = optarg; break;
        case O_FUSED: fused = 1; break;
        case O_ACTS: acts = optarg; break;
        case O_ACT: act_type = optarg; break;
        case O_MINTIME:
            if (qc_parse_double(optarg, 1e-6, 60, "--min-time", &min_time, &err))
                return cli_fail(&err, QC_EINPUT);
            break;
        case O_HOLDOUT_M:
            if (qc_parse_int(optarg, 1, 1 << 24, "--holdout-max-m", &holdout_m, &err))
                return cli_fail(&err, QC_EINPUT);
            break;
        case O_REPS:
            if (qc_parse_int(optarg, 1, 100, "--repetitions", &reps, &err))
                return cli_fail(&err, QC_EINPUT);
            break;
        case O_CACHE:
        case O_MAXCV:
        case O_BUDGET:
            if (cli_timing_option(o == O_CACHE ? "cache" : o == O_MAXCV ? "max-cv" : "budget", optarg, &timing, &warm,
                                  &err))
                return cli_fail(&err, QC_EINPUT);
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
    char command[1024] = "qbench";
    for (int i = 0; i < argc; i++)
        snprintf(command + strlen(command), sizeof command - strlen(command), " %s", argv[i]);
    cli_sweep_args a = {.command = command, .device = device, .resume = resume != NULL, .predict = predict};
    /* cuda:all: this process runs one worker per GPU, each of them this same command line with
     * QBENCH_GPU_WORKER=I/N set (cli_pipeline_gpus), which makes it shard I of N on cuda:0 */
    const char *worker = getenv("QBENCH_GPU_WORKER");
    const int gpus = !strcmp(device, "cuda:all");
    if (gpus && shard)
        return cli_usage_error(argv[0], "--device cuda:all runs one shard per GPU itself: leave out --shard");
    if (gpus && worker) {
        if (qb_shard_parse(worker, &a.shard, &err))
            return cli_fail(&err, QC_EINPUT);
        snprintf(a.shard.from, sizeof a.shard.from, "GPU worker %d of %d, CUDA_VISIBLE_DEVICES=%s", a.shard.index,
                 a.shard.count, getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "");
        a.device = "cuda:0";
    } else if (shard && qb_shard_parse(shard, &a.shard, &err)) {
        return cli_fail(&err, QC_EINPUT);
    }
    /* the folder: -o DIR, or the resumed file's; a shard's is DIR/shard-I-of-N */
    char dir[4096], results[4200];
    if (resume) {
        const char *slash = strrchr(resume, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - resume) : 1, slash ? resume : ".");
        snprintf(results, sizeof results, "%s", resume);
    } else {
        snprintf(dir, sizeof dir, "%s", out ? out : "out");
        snprintf(results, sizeof results, "%s/results.json", dir);
    }
    if (a.shard.count && (!resume || worker)) { /* a worker resumes its own shard's file, when there is one */
        snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/shard-%d-of-%d", a.shard.index, a.shard.count);
        snprintf(results, sizeof results, "%s/results.json", dir);
        a.resume = resume && access(results, F_OK) == 0;
    }
    a.dir = dir;
    a.results = results;

    if (quick)
        qb_axes_quick(&a.axes);
    else
        qb_axes_default(&a.axes);
    int rc = 0;
    if (batch)
        rc = qb_parse_ints("--batch", batch, 1, 1 << 20, a.axes.batch, &a.axes.n_batch, &err);
    if (!rc && seq)
        rc = qb_parse_ints("--seq", seq, 1, 1 << 20, a.axes.seq, &a.axes.n_seq, &err);
    if (!rc && group)
        rc = qb_parse_groups(group, &a.axes, &err);
    if (!rc && schemes)
        rc = qb_parse_schemes(schemes, &a.axes, &err);
    if (!rc && shapes)
        rc = qb_parse_shapes(shapes, &a.axes, &err);
    if (!rc && configs)
        rc = qb_parse_configs(configs, &a.axes, &err);
    if (!rc && holdout)
        rc = qb_parse_holdout(holdout, &a.axes, &err);
    if (!rc && model && shapes)
        return cli_usage_error(argv[0], "--model takes its shapes from the model: leave out --shapes");
    if (!rc && fused && !model)
        return cli_usage_error(argv[0], "--fused applies to --model's layers");
    qm_model *mod = NULL;
    qm_acts *act = NULL;
    if (!rc && model)
        rc = qm_model_open(model, fused, &mod, &err);
    if (!rc)
        rc = cli_act_option(act_type, mod, &a.axes.act_bf16, &err);
    if (!rc && mod) {
        qb_axes_model(&a.axes, mod);
        const qm_arch *ar = qm_model_arch(mod);
        fprintf(stderr, "qbench: model %s (%s, %s): %d blocks, %d linear layers, %d distinct shapes; %s; %s activations\n",
                qm_model_name(mod), *ar->model_type ? ar->model_type : "?", *ar->torch_dtype ? ar->torch_dtype : "?",
                ar->blocks, ar->n_layer, a.axes.n_shape,
                qm_model_has_weights(mod) ? "its first block's weights" : "no *.safetensors: synthetic weights",
                a.axes.act_bf16 ? "bf16" : "fp16");
    }
    if (!rc && acts)
        rc = qm_acts_open(acts, &act, &err);
    if (rc) {
        qm_model_close(mod);
        return cli_fail(&err, QC_EINPUT);
    }
    a.axes.warm = warm;
    a.axes.holdout_max_m = holdout_m;
    a.measure = timing;
    a.measure.min_time = min_time > 0 ? min_time : quick ? 0.03 : 0.1;
    a.measure.repetitions = reps ? reps : quick ? 3 : 5;
    a.measure.model = mod;
    a.measure.acts = act;
    a.acts = acts;
    rc = gpus && !worker ? cli_pipeline_gpus(&a, argc, argv, &err) : cli_pipeline(&a, &err);
    qm_model_close(mod);
    qm_acts_close(act);
    if (rc && rc < 128)
        return cli_fail(&err, rc);
    qc_msgs_free(&err);
    return rc;
}
