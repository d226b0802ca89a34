/* qbench probe: identify a device, measure its ceilings and write its profile; `measured:`
 * holds only what this run really established. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hardware/hardware.h"
#include "profiles/profile.h"

static const char help[] =
    "usage: qbench probe [--device host|NAME|cuda:N] [-o FILE] [--quick]\n\n"
    "Identifies the device, measures its ceilings and writes its profile as YAML (schema 1) to\n"
    "FILE, or to standard output. --device host (the default) builds the profile from hwloc and\n"
    "CPUID and measures streaming bandwidth per memory level (read and read-write, from inside L1\n"
    "to 8x the last-level cache) and the peak rate of each number format (fp32 FMA, fp16 and fp8\n"
    "convert + FMA, int8 and int4 dot, bf16 dot), on all hardware threads and on one. A profile\n"
    "name or alias (a100, h100, ...) probes the local device that profile matches, and refuses\n"
    "when there is none; cuda:N probes CUDA device N: HBM and L2 bandwidth (a read kernel and a\n"
    "copy), tensor throughput (fp16, int8, fp8) from large cuBLASLt products. The\n"
    "'measured' section records when, where and with which qbench version, and the spread of\n"
    "the repetitions; a table of the ceilings goes to standard error.\n\n"
    "  -d, --device NAME   device to probe (default: host)\n"
    "  -o, --output FILE   write the profile here (atomically) instead of standard output\n"
    "      --quick         fewer working sets and shorter repetitions (seconds, not half a minute)\n";

int cmd_probe(int argc, char **argv)
{
    static const struct option lo[] = {{"device", required_argument, 0, 'd'},
                                       {"output", required_argument, 0, 'o'},
                                       {"quick", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    const char *device = "host", *out = "-";
    int o, quick = 0;
    while ((o = cli_getopt(argc, argv, "d:o:h", lo)) != -1) {
        switch (o) {
        case 'd': device = optarg; break;
        case 'o': out = optarg; break;
        case 'q': quick = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return QC_EINPUT;
        }
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);

    qc_msgs err = {0};
    qh_host h;
    if (qh_host_discover(&h, &err) != QC_OK)
        return cli_fail(&err, QC_ERUNTIME);
    qh_cuda cuda;
    qh_cuda_discover(&cuda);
    qp_catalog cat;
    qp_catalog_load(&cat);
    qp_target t;
    int rc = qp_target_resolve(device, &cat, &h, &cuda, &t, &err);
    qp_catalog_free(&cat);
    if (rc)
        return cli_fail(&err, rc);
    if (!t.local) {
        qc_msgs_addf(&err, "cannot probe --device %s: %s (run the probe on a machine that has this device)", device, t.why);
        qp_target_free(&t);
        return cli_fail(&err, QC_EINPUT);
    }
    qp_profile_set_measured(t.profile, t.device_name);
    if (t.cuda_index < 0)
        rc = qp_probe_host(t.profile, &h, quick, stderr, &err);
    else
        rc = qp_probe_cuda(t.profile, t.cuda_index, cuda.dev[t.cuda_index].cc_major, cuda.dev[t.cuda_index].cc_minor,
                           quick, stderr, &err);
    if (rc) {
        qp_target_free(&t);
        return cli_fail(&err, rc);
    }
    qp_print_ceilings(t.profile, stderr);
    rc = qp_profile_write(t.profile, out, &err);
    if (rc == QC_OK && strcmp(out, "-") != 0)
        fprintf(stderr, "qbench: wrote profile %s for %s to %s\n", t.profile->name, t.device_name, out);
    qp_target_free(&t);
    return rc ? cli_fail(&err, rc) : 0;
}
