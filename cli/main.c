/* qbench: the command line. `qbench <command> [options]`; see `qbench help`. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"devices", cmd_devices, "list the local devices (host CPU, CUDA GPUs) and the profile that matches each"},
    {"profile", cmd_profile, "list, show and validate device profiles (profile list|show|validate)"},
    {"probe", cmd_probe, "identify a device and write its profile (--device host|NAME|cuda:N)"},
    {"kernels", cmd_kernels, "list the kernel registry and each kernel's tunable parameters"},
    {"run", cmd_run, "check and time one scheme, shape and kernel configuration"},
    {"sweep", cmd_sweep, "sweep a grid (schemes × shapes × M × groups × configurations), then fit, tune, emit, plot"},
    {"merge", cmd_merge, "join the results of a sweep's shards (or of one device's sweeps) into one file"},
    {"fit", cmd_fit, "fit the roofline per scheme to results; crossovers between schemes (--report)"},
    {"tune", cmd_tune, "the fastest correct configuration per scheme, shape and M bucket"},
    {"emit", cmd_emit, "write the dispatch table: C header, JSON or vLLM-style JSON"},
    {"plot", cmd_plot, "draw the roofline, throughput against M, and the winners (gnuplot)"},
    {"predict", cmd_predict, "the roofline's time for a layer on any profiled device, and crossovers"},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f)
{
    fprintf(f,
            "qbench %s: roofline-driven benchmark and autotuner for quantized LLM GEMM\n\n"
            "usage: qbench <command> [options]\n\ncommands:\n",
            QBENCH_VERSION);
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-9s %s\n", "help", "this text, or a command's help: qbench help <command>");
    fprintf(f, "\noptions: --version, --help. Each command takes --help.\n"
               "exit codes: 0 ok, 1 runtime failure, 2 bad input\n");
}

static const command *find(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    char opts[64];
    snprintf(opts, sizeof opts, ":%s", shortopts); /* leading ':': a missing value returns ':' */
    opterr = 0;
    int c = getopt_long(argc, argv, opts, longopts, NULL);
    if (c == ':')
        fprintf(stderr, "qbench %s: option '%s' needs a value (see 'qbench %s --help')\n", argv[0],
                argv[optind - 1], argv[0]);
    else if (c == '?' && optopt)
        fprintf(stderr, "qbench %s: unknown option '-%c' (see 'qbench %s --help')\n", argv[0], optopt, argv[0]);
    else if (c == '?')
        fprintf(stderr, "qbench %s: unknown option '%s' (see 'qbench %s --help')\n", argv[0], argv[optind - 1],
                argv[0]);
    return c == ':' ? '?' : c;
}

int cli_help_only(int argc, char **argv, const char *help)
{
    static const struct option lo[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int o = cli_getopt(argc, argv, "+h", lo);
    if (o == -1)
        return -1;
    if (o == 'h') {
        fputs(help, stdout);
        return 0;
    }
    return QC_EINPUT;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "qbench %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'qbench %s --help')\n", cmd);
    va_end(ap);
    return QC_EINPUT;
}

int cli_fail(qc_msgs *m, int rc)
{
    qc_msgs_print(m, stderr);
    qc_msgs_free(m);
    return rc;
}

/* Measurements are reproducible only with threads that stay on their cores: pin the OpenMP
 * threads one per core, as likwid-pin does, unless the user chose a binding. libgomp reads its
 * environment before main runs, so qbench re-executes itself once with it set. */
static void pin_threads(char **argv)
{
    if (getenv("OMP_PROC_BIND"))
        return;
    setenv("OMP_PROC_BIND", "close", 1);
    setenv("OMP_PLACES", "cores", 1);
    execv("/proc/self/exe", argv); /* returns only on failure: go on unpinned */
}

/* What a command printed must have reached standard output: a full disk, a closed pipe or
 * /dev/full is a failure, never exit 0. */
static int finish(int rc)
{
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int saved = errno;
    bad |= fclose(stdout) != 0;
    if (bad) {
        fprintf(stderr, "qbench: standard output: write failed: %s\n", strerror(saved ? saved : EIO));
        return rc ? rc : QC_ERUNTIME;
    }
    return rc;
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv)
{
    pin_threads(argv);
    return finish(dispatch(argc, argv));
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return QC_EINPUT;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("qbench %s\n", QBENCH_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            const command *c = find(argv[2]);
            if (!c) {
                fprintf(stderr, "qbench: unknown command '%s' (run 'qbench help' for the list)\n", argv[2]);
                return QC_EINPUT;
            }
            char *hargv[] = {(char *)c->name, "--help", NULL};
            return c->run(2, hargv);
        }
        usage(stdout);
        return 0;
    }
    const command *c = find(cmd);
    if (!c) {
        fprintf(stderr, "qbench: unknown command '%s' (run 'qbench help' for the list)\n", cmd);
        return QC_EINPUT;
    }
    optind = 0; /* glibc: full reinitialisation for the command's own options */
    return c->run(argc - 1, argv + 1);
}
