/* The profile search path: ./profiles, $QBENCH_PROFILE_PATH, the installed share directory. */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"

#ifndef QBENCH_PROFILE_DIR
#define QBENCH_PROFILE_DIR "/usr/local/share/qbench/profiles"
#endif

static int is_profile_file(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' &&
           ((n > 5 && !strcmp(e->d_name + n - 5, ".yaml")) || (n > 4 && !strcmp(e->d_name + n - 4, ".yml")));
}

static qp_entry *push(qp_catalog *cat)
{
    cat->v = qc_xrealloc(cat->v, (size_t)(cat->n + 1) * sizeof *cat->v);
    qp_entry *e = &cat->v[cat->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static void scan_dir(qp_catalog *cat, const char *dir, const char *label, char seen[][PATH_MAX], int *n_seen)
{
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return; /* a directory that does not exist is simply not searched */
    for (int i = 0; i < *n_seen; i++)
        if (!strcmp(seen[i], real))
            return;
    if (*n_seen < 16)
        strcpy(seen[(*n_seen)++], real);
    struct dirent **names;
    int n = scandir(dir, &names, is_profile_file, alphasort);
    if (n < 0)
        return;
    for (int i = 0; i < n; i++) {
        qp_entry *e = push(cat);
        size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
        e->path = qc_xcalloc(len, 1);
        snprintf(e->path, len, "%s/%s", dir, names[i]->d_name);
        e->dir_label = qc_strdup(label);
        qc_msgs errs = {0};
        if (qp_profile_load(e->path, &e->profile, &errs) != QC_OK)
            e->error = qc_strdup(errs.n ? errs.v[0] : "invalid profile");
        qc_msgs_free(&errs);
        free(names[i]);
    }
    free(names);
}

static void mark_shadowed(qp_catalog *cat)
{
    for (int i = 0; i < cat->n; i++) {
        if (!cat->v[i].profile)
            continue;
        cat->v[i].shadowed = 0;
        for (int j = 0; j < i; j++)
            if (cat->v[j].profile && !strcmp(cat->v[j].profile->name, cat->v[i].profile->name))
                cat->v[i].shadowed = 1;
    }
}

void qp_catalog_load(qp_catalog *cat)
{
    memset(cat, 0, sizeof *cat);
    char seen[16][PATH_MAX];
    int n_seen = 0;
    scan_dir(cat, "./profiles", "./profiles", seen, &n_seen);
    const char *env = getenv("QBENCH_PROFILE_PATH");
    if (env && *env) {
        char *copy = qc_strdup(env), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
            scan_dir(cat, d, "$QBENCH_PROFILE_PATH", seen, &n_seen);
        free(copy);
    }
    scan_dir(cat, QBENCH_PROFILE_DIR, "installed", seen, &n_seen);
    mark_shadowed(cat);
}

void qp_catalog_add(qp_catalog *cat, qp_profile *p, const char *label)
{
    qp_entry *e = push(cat);
    e->path = qc_strdup(label);
    e->dir_label = qc_strdup(label);
    e->profile = p;
    mark_shadowed(cat);
}

const qp_profile *qp_catalog_find(const qp_catalog *cat, const char *name)
{
    for (int pass = 0; pass < 2; pass++) /* names first, then aliases */
        for (int i = 0; i < cat->n; i++) {
            const qp_entry *e = &cat->v[i];
            if (!e->profile || e->shadowed)
                continue;
            if (pass == 0 ? !strcmp(e->profile->name, name) : qp_profile_named(e->profile, name))
                return e->profile;
        }
    return NULL;
}

void qp_catalog_free(qp_catalog *cat)
{
    for (int i = 0; i < cat->n; i++) {
        free(cat->v[i].path);
        free(cat->v[i].dir_label);
        free(cat->v[i].error);
        qp_profile_free(cat->v[i].profile);
    }
    free(cat->v);
    memset(cat, 0, sizeof *cat);
}

void qp_search_path_describe(char *buf, size_t len)
{
    const char *env = getenv("QBENCH_PROFILE_PATH");
    snprintf(buf, len, "./profiles%s%s, %s", env && *env ? ", " : "", env && *env ? env : "", QBENCH_PROFILE_DIR);
}
