/* qbench fit: the roofline per scheme, fitted to a results file, written into the profile. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/pipeline.h"

static const char help[] =
    "usage: qbench fit RESULTS [--profile NAME|FILE] [-o PROFILE] [--report]\n\n"
    "Fits the model t = t0 + max(tm, tc) + x·min(tm, tc), tm = bytes / (e_mem·BW) the memory side\n"
    "and tc = flops / (e_comp·P) + ceil(M/MR)·N·K·d the compute side, to the results, the probed\n"
    "ceilings fixed (BW the DRAM read, P the peak of the number format each kernel computes in):\n"
    "per kernel the two efficiencies, in (0, 1], d, the seconds it takes to decode a weight once\n"
    "per pass of its MR-row register tile, and x, the share of the shorter side the longer does\n"
    "not hide, in [0, 1] (0: the roofline's max); one fixed cost t0 per device; by robust least\n"
    "squares (Huber) in log space. Prints them in physical terms and the model's\n"
    "stated error per scheme: in sample, leaving each shape out of the fit in turn, and on the\n"
    "points a sweep held out (--holdout); and where each scheme's largest error lies (the kernel,\n"
    "shape and M, measured beside predicted).\n"
    "Writes the fit into the profile (fit:, with the results file's hash); the results file is\n"
    "left as it is. --report adds the crossovers: the M where each pair of schemes swaps order, per\n"
    "shape, predicted beside measured. The profile defaults to the one a sweep wrote beside the\n"
    "results (profile-NAME.yaml, with the ceilings it probed), else the device's the results were\n"
    "made on; it is written to -o, to its own file when --profile named one, else beside the\n"
    "results.\n";

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
        case 'h': fputs(help, stdout); return 0;
        default: return QC_EINPUT;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(argv[0], "give one results file");
    qc_msgs err = {0};
    cli_results r;
    qp_profile *prof = NULL;
    int rc = cli_results_load(&r, argv[optind], &err);
    if (!rc)
        rc = cli_profile_for(want, r.device, &prof, &err);
    /* without --profile, the profile a sweep wrote beside its results where there is one: it
     * carries the ceilings the sweep probed, which a generated host profile does not */
    char beside[4200];
    struct stat st;
    if (!rc) {
        const char *slash = strrchr(r.path, '/');
        snprintf(beside, sizeof beside, "%.*sprofile-%s.yaml", slash ? (int)(slash - r.path + 1) : 0, r.path,
                 prof->name);
        if (!want && stat(beside, &st) == 0 && S_ISREG(st.st_mode)) {
            qp_profile_free(prof);
            rc = cli_profile_for(beside, r.device, &prof, &err);
        }
    }
    if (!rc)
        rc = cli_fit(&r, &err);
    if (!rc) {
        cli_fit_report(&r, stdout, report);
        if (!out)
            out = want && strcmp(prof->origin ? prof->origin : "", "built-in") && strchr(prof->origin, '/')
                      ? prof->origin
                      : beside;
        rc = cli_fit_write(&r, prof, out, &err);
        if (!rc)
            printf("\nwrote the fit into %s (fitted to %s, hash %s)\n", out, r.path, r.hash);
    }
    qp_profile_free(prof);
    cli_results_free(&r);
    return rc ? cli_fail(&err, rc) : 0;
}
