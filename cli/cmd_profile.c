/* qbench profile list|show|validate */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/pipeline.h"
#include "hardware/hardware.h"
#include "profiles/profile.h"

static const char help[] =
    "usage: qbench profile list\n"
    "       qbench profile show NAME|FILE\n"
    "       qbench profile validate FILE...\n\n"
    "list      every profile on the search path, where it came from, and whether it is usable\n"
    "show      print a profile as YAML: by name or alias (a100, h100, h200, l40s, rtx4090, host)\n"
    "          or from a file\n"
    "validate  check files against schema version 1; prints FILE: ok, or FILE:LINE: what is wrong\n"
    "          for each problem, and exits 2 when any file is bad\n\n"
    "Search path, first wins: ./profiles, the directories in $QBENCH_PROFILE_PATH (':'-separated),\n"
    "the installed share directory. 'host' is built in: generated from this machine.\n";

static int do_list(void)
{
    qc_msgs err = {0};
    qp_catalog cat;
    if (qp_catalog_load_with_host(&cat, &err))
        return cli_fail(&err, QC_ERUNTIME);
    char path[1024];
    qp_search_path_describe(path, sizeof path);
    printf("search path: %s\n\n", path);
    printf("%-16s %-8s %-7s %-10s %s\n", "NAME", "VENDOR", "BACKEND", "ALIASES", "FROM");
    int bad = 0;
    for (int i = 0; i < cat.n; i++) {
        const qp_entry *e = &cat.v[i];
        if (!e->profile) {
            printf("%-16s %-8s %-7s %-10s %s  INVALID: %s\n", "?", "?", "?", "", e->path, e->error);
            bad = 1;
            continue;
        }
        const qp_profile *p = e->profile;
        char aliases[128] = "";
        for (int j = 0; j < p->n_aliases; j++)
            snprintf(aliases + strlen(aliases), sizeof aliases - strlen(aliases), "%s%s", j ? "," : "", p->aliases[j]);
        char from[1200];
        if (!strcmp(e->dir_label, "built-in"))
            snprintf(from, sizeof from, "built-in, generated from this machine");
        else
            snprintf(from, sizeof from, "%s (%s)", e->path, e->dir_label);
        printf("%-16s %-8s %-7s %-10s %s%s\n", p->name, p->vendor, qp_backend_name(p->match.backend),
               aliases[0] ? aliases : "-", from, e->shadowed ? ", shadowed by an earlier one" : "");
    }
    qp_catalog_free(&cat);
    qc_msgs_free(&err);
    return bad ? QC_EINPUT : 0;
}

static int do_show(const char *what)
{
    qc_msgs err = {0};
    qp_profile *p;
    int rc = cli_profile_named(what, &p, &err);
    if (!rc)
        rc = qp_profile_emit(p, stdout, &err);
    qp_profile_free(p);
    return rc ? cli_fail(&err, rc) : 0;
}

static int do_validate(int n, char **files)
{
    int worst = 0;
    for (int i = 0; i < n; i++) {
        qc_msgs err = {0};
        qp_profile *p;
        int rc = qp_profile_load(files[i], &p, &err);
        if (rc == QC_OK)
            printf("%s: ok (%s)\n", files[i], p->name);
        qc_msgs_print(&err, stderr);
        qc_msgs_free(&err);
        qp_profile_free(p);
        if (rc > worst)
            worst = rc;
    }
    return worst;
}

int cmd_profile(int argc, char **argv)
{
    int rc = cli_help_only(argc, argv, help);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return cli_usage_error(argv[0], "missing subcommand: list, show or validate");
    const char *sub = argv[optind];
    char **rest = argv + optind + 1;
    int nrest = argc - optind - 1;
    if (nrest > 0 && (!strcmp(rest[0], "--help") || !strcmp(rest[0], "-h"))) {
        fputs(help, stdout);
        return 0;
    }
    if (!strcmp(sub, "list")) {
        if (nrest)
            return cli_usage_error(argv[0], "'list' takes no arguments, got '%s'", rest[0]);
        return do_list();
    }
    if (!strcmp(sub, "show")) {
        if (nrest != 1)
            return cli_usage_error(argv[0], "'show' takes one profile name or file");
        return do_show(rest[0]);
    }
    if (!strcmp(sub, "validate")) {
        if (nrest == 0)
            return cli_usage_error(argv[0], "'validate' needs at least one FILE");
        return do_validate(nrest, rest);
    }
    return cli_usage_error(argv[0], "unknown subcommand '%s' (use list, show or validate)", sub);
}
