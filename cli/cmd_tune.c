/* qbench tune: the fastest correct configuration per scheme, shape, options and M bucket. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/pipeline.h"

static const char help[] =
    "usage: qbench tune RESULTS [--buckets LIST] [--max-error E] [--min-sqnr DB] [--tie-margin PCT] [-o FILE]\n\n"
    "Picks, per (scheme, N, K, group, options, M bucket), the fastest correct configuration. The\n"
    "options are the int4 zero points, the output type and the fp8 scale. M buckets are powers\n"
    "of two unless --buckets gives their upper bounds (e.g. 1,16,64,256,4096). A winner must beat\n"
    "the runner-up by more than twice the measured noise; otherwise the table says tie and the\n"
    "simpler (default) configuration stands. --max-error E leaves out points whose quantization\n"
    "error exceeds E (\"the fastest scheme within 1%% error\" is --max-error 0.01); --min-sqnr DB\n"
    "leaves out those whose output SQNR is under DB decibels (-20 log10 of the error). A winner that a\n"
    "sweep re-measured side by side with its kernel's default and that did not beat it beyond the\n"
    "noise gives way to the default. Then the fastest scheme per cell: two schemes within\n"
    "--tie-margin (default 3) percent, or within the noise of their measurements, are a tie, the\n"
    "more accurate named first. Also reports how many points roofline pruning would have saved\n"
    "and whether it finds the same winners. -o writes the table as JSON (what `qbench emit\n"
    "--format json` writes).\n";

int cmd_tune(int argc, char **argv)
{
    static const struct option lo[] = {{"buckets", required_argument, 0, 'b'}, {"max-error", required_argument, 0, 'e'},
                                       {"min-sqnr", required_argument, 0, 's'},
                                       {"tie-margin", required_argument, 0, 't'},
                                       {"output", required_argument, 0, 'o'},  {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    cli_tune_args ta = {0};
    const char *out = NULL;
    qc_msgs err = {0};
    int o;
    while ((o = cli_getopt(argc, argv, "b:e:t:o:h", lo)) != -1) {
        if (o == 'h') {
            fputs(help, stdout);
            return 0;
        }
        if (o == 'o')
            out = optarg;
        else if (o == '?' || cli_tune_option(o, optarg, &ta, &err))
            return o == '?' ? QC_EINPUT : cli_fail(&err, QC_EINPUT);
    }
    if (optind + 1 != argc)
        return cli_usage_error(argv[0], "give one results file");
    cli_results r;
    qt_tuned t = {0};
    int rc = cli_results_load(&r, argv[optind], &err);
    if (!rc)
        rc = cli_tune(&r, &ta, &t, &err);
    if (!rc) {
        cli_tune_report(&t, ta.tie_margin, stdout);
        if (out)
            rc = cli_emit(&r, &t, ta.tie_margin, "json", out, &err);
    }
    qt_tuned_free(&t);
    cli_results_free(&r);
    return rc ? cli_fail(&err, rc) : 0;
}
