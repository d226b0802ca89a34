/* qbench merge: the results of several shards (or of sweeps of one device run apart) as one file. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/pipeline.h"

static const char help[] =
    "usage: qbench merge RESULTS... -o FILE [--force]\n\n"
    "Joins results files into one that fit, tune, emit, plot and Google Benchmark's compare.py\n"
    "read like any other: the shards of a sweep (qbench sweep --shard I/N or auto, one results\n"
    "file each, under DIR/shard-I-of-N/), or sweeps of one device run apart. It refuses files\n"
    "of different devices, profiles, qbench versions or cache modes, a predicted file with a\n"
    "measured one, shards of different plans, and a sweep's shards with one missing. An exact\n"
    "duplicate is dropped; a point measured twice keeps the measurement with the lower cv (a\n"
    "failed check always stands), and the two are reported when they differ beyond their noise.\n\n"
    "  -o, --output FILE  the merged results (written atomically)\n"
    "  --force            merge what the checks above would refuse\n";

int cmd_merge(int argc, char **argv)
{
    static const struct option lo[] = {{"output", required_argument, 0, 'o'}, {"force", no_argument, 0, 'f'},
                                       {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *out = NULL;
    int force = 0, o;
    while ((o = cli_getopt(argc, argv, "o:h", lo)) != -1) {
        if (o == 'h') {
            fputs(help, stdout);
            return 0;
        }
        if (o == '?')
            return QC_EINPUT;
        if (o == 'o')
            out = optarg;
        else
            force = 1;
    }
    if (optind >= argc)
        return cli_usage_error(argv[0], "give the results files to merge");
    if (!out)
        return cli_usage_error(argv[0], "-o FILE is required");
    qc_msgs err = {0};
    qb_merge_stats st;
    int rc = cli_merge((const char *const *)argv + optind, argc - optind, force, out, &st, &err);
    if (rc)
        return cli_fail(&err, rc);
    printf("%d points from %d files into %s (%d exact duplicates dropped; %d measured twice, the lower cv kept, "
           "%d of them apart beyond their noise)\n", st.points, st.files, out, st.duplicates, st.twice, st.disagree);
    return 0;
}
