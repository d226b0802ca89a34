/* qbench plot: the pictures of a results file, with gnuplot. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/pipeline.h"

static const char help[] = "usage: qbench plot RESULTS -o DIR\n\n"
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
            fputs(help, stdout);
            return 0;
        }
        if (o != 'o')
            return QC_EINPUT;
        dir = optarg;
    }
    if (optind + 1 != argc || !dir)
        return cli_usage_error(argv[0], "give one results file and -o DIR");
    qc_msgs err = {0};
    cli_results r;
    qt_tuned t = {0};
    cli_tune_args ta = {0};
    int written = 0, rc = cli_results_load(&r, argv[optind], &err);
    if (!rc)
        rc = cli_tune(&r, &ta, &t, &err);
    if (!rc)
        rc = cli_plot(&r, &t, 0, dir, &written, &err);
    if (!rc)
        printf("wrote %d pictures (PNG and SVG) into %s\n", written, dir);
    qt_tuned_free(&t);
    cli_results_free(&r);
    return rc ? cli_fail(&err, rc) : 0;
}
