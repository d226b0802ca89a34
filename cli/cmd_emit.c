/* qbench emit: the dispatch table, as a C header, JSON or vLLM-style JSON. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/pipeline.h"

static const char help[] =
    "usage: qbench emit RESULTS... --format header|json|vllm -o FILE [--buckets LIST] [--max-error E] [--min-sqnr DB]\n"
    "                   [--tie-margin PCT]\n\n"
    "Tunes the results (as qbench tune) and writes the dispatch table: header, one self-contained\n"
    "qbench_dispatch_<device>.h (C99 and C++; lookups by scheme, options and (M, N, K, group), the\n"
    "best scheme of a set, which names a tie within --tie-margin (default 3) percent and takes the\n"
    "more accurate scheme, the predicted time; unseen shapes answered from the fitted model, whose\n"
    "stated error the header carries); json, the same content; vllm, per-device JSON keyed by M.\n"
    "The same input gives the same bytes.\n"
    "Several results files, one per device (header or json): one table for the fleet, each device's\n"
    "own section plus qbd_fleet_find(name, cc_major, cc_minor, &basis), which answers for a device\n"
    "name by the exact name, then the profile's aliases, its match pattern, its compute capability,\n"
    "then a model (a known profile that was not swept: its ceilings x the efficiencies fitted on\n"
    "the nearest swept GPU; an unknown name: the nearest swept GPU's model), and says which.\n";

int cmd_emit(int argc, char **argv)
{
    static const struct option lo[] = {{"format", required_argument, 0, 'f'},  {"output", required_argument, 0, 'o'},
                                       {"buckets", required_argument, 0, 'b'}, {"max-error", required_argument, 0, 'e'},
                                       {"min-sqnr", required_argument, 0, 's'},
                                       {"tie-margin", required_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    cli_tune_args ta = {0};
    const char *format = NULL, *out = NULL;
    qc_msgs err = {0};
    int o;
    while ((o = cli_getopt(argc, argv, "f:o:b:e:t:h", lo)) != -1) {
        if (o == 'h') {
            fputs(help, stdout);
            return 0;
        }
        if (o == 'f')
            format = optarg;
        else if (o == 'o')
            out = optarg;
        else if (o == '?' || cli_tune_option(o, optarg, &ta, &err))
            return o == '?' ? QC_EINPUT : cli_fail(&err, QC_EINPUT);
    }
    if (optind >= argc)
        return cli_usage_error(argv[0], "give a results file (several: one table for a fleet)");
    if (!format || (strcmp(format, "header") && strcmp(format, "json") && strcmp(format, "vllm")))
        return cli_usage_error(argv[0], "--format header, json or vllm is required");
    if (!out)
        return cli_usage_error(argv[0], "-o FILE is required");
    if (argc - optind > 1) {
        int rc = cli_emit_fleet((const char *const *)argv + optind, argc - optind, &ta, format, out, &err);
        return rc ? cli_fail(&err, rc) : 0;
    }
    cli_results r;
    qt_tuned t = {0};
    int rc = cli_results_load(&r, argv[optind], &err);
    if (!rc)
        rc = cli_tune(&r, &ta, &t, &err);
    if (!rc)
        rc = cli_emit(&r, &t, ta.tie_margin, format, out, &err);
    qt_tuned_free(&t);
    cli_results_free(&r);
    return rc ? cli_fail(&err, rc) : 0;
}
