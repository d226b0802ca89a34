/* Profiles of local hardware: the built-in "host" profile and profiles for CUDA devices
 * that no shipped profile matches. Figures come from hwloc, CPUID and the CUDA runtime,
 * each with that source; nothing here is a datasheet number. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardware/hardware.h"
#include "profiles/profile.h"

/* A device name as an fnmatch pattern that matches exactly that name. */
static char *literal_pattern(const char *s)
{
    char *out = qc_xcalloc(2 * strlen(s) + 1, 1), *o = out;
    for (; *s; s++) {
        if (strchr("*?[]\\", *s))
            *o++ = '\\';
        *o++ = *s;
    }
    return out;
}

static const char *vendor_name(const char *cpuid_vendor)
{
    if (!strcmp(cpuid_vendor, "AuthenticAMD"))
        return "AMD";
    if (!strcmp(cpuid_vendor, "GenuineIntel"))
        return "Intel";
    return cpuid_vendor[0] ? cpuid_vendor : "unknown";
}

qp_profile *qp_profile_from_host(const qh_host *h)
{
    char *pat = literal_pattern(h->cpu.model);
    qp_profile *p = qp_profile_new("host", vendor_name(h->cpu.vendor), QP_BACKEND_CPU, pat);
    free(pat);
    char src[320], note[160];
    snprintf(src, sizeof src, "hwloc %s on %s", h->hwloc_version, h->hostname);
    qp_profile_set(p, QP_CORES, h->cores, src, NULL);
    qp_profile_set(p, QP_THREADS, h->threads, src, NULL);
    static const qp_spec_id ids[] = {QP_L1_CACHE_KIB, QP_L2_CACHE_MIB, QP_L3_CACHE_MIB};
    for (int level = 1; level <= 3; level++) {
        const qh_cache *c = qh_host_cache(h, level);
        if (!c || !c->size)
            continue;
        double scale = level == 1 ? 1024.0 : 1024.0 * 1024.0;
        snprintf(note, sizeof note, "per instance; %d instance%s, each shared by %d thread%s", c->instances,
                 c->instances == 1 ? "" : "s", c->threads_sharing, c->threads_sharing == 1 ? "" : "s");
        qp_profile_set(p, ids[level - 1], (double)c->size / scale, src, note);
    }
    if (h->memory)
        qp_profile_set(p, QP_MEMORY_GIB, round((double)h->memory / (1024.0 * 1024.0 * 1024.0) * 100) / 100, "sysconf(_SC_PHYS_PAGES)",
                       NULL);
    char notes[800];
    snprintf(notes, sizeof notes,
             "Generated from this machine (%s, %s) by qbench %s from hwloc and CPUID. It carries no datasheet "
             "peaks; bandwidth and compute ceilings come from measurement.",
             h->cpu.model, h->hostname, QBENCH_VERSION);
    p->notes = qc_strdup(notes);
    return p;
}

int qp_catalog_load_with_host(qp_catalog *cat, qc_msgs *err)
{
    qp_catalog_load(cat);
    qh_host h;
    if (qh_host_discover(&h, err) != QC_OK)
        return QC_ERUNTIME;
    qp_catalog_add(cat, qp_profile_from_host(&h), "built-in");
    return QC_OK;
}

qp_profile *qp_profile_from_cuda(const qh_cuda_device *d)
{
    char name[128];
    size_t n = 0;
    for (const char *s = d->name; *s && n + 1 < sizeof name; s++) {
        char ch = (char)tolower((unsigned char)*s);
        if (isalnum((unsigned char)ch))
            name[n++] = ch;
        else if (n && name[n - 1] != '-')
            name[n++] = '-';
    }
    while (n && name[n - 1] == '-')
        n--;
    name[n] = '\0';
    if (!n)
        snprintf(name, sizeof name, "cuda%d", d->index);
    char *pat = literal_pattern(d->name);
    qp_profile *p = qp_profile_new(name, "NVIDIA", QP_BACKEND_CUDA, pat);
    free(pat);
    p->match.cc_major = d->cc_major;
    p->match.cc_minor = d->cc_minor;
    const char *src = "CUDA runtime device properties";
    if (d->bandwidth_gbs > 0)
        qp_profile_set(p, QP_MEMORY_BANDWIDTH_GBS, d->bandwidth_gbs,
                       "CUDA runtime: 2 x memory clock x bus width (theoretical)", NULL);
    if (d->sms > 0)
        qp_profile_set(p, QP_SMS, d->sms, src, NULL);
    if (d->l2_size)
        qp_profile_set(p, QP_L2_CACHE_MIB, (double)d->l2_size / (1024.0 * 1024.0), src, NULL);
    if (d->memory)
        qp_profile_set(p, QP_MEMORY_GIB, (double)d->memory / (1024.0 * 1024.0 * 1024.0), src, NULL);
    p->notes = qc_strdup("Generated from the CUDA runtime's device properties; no shipped profile matched "
                         "this device. Tensor peaks are not known from properties alone.");
    return p;
}

void qp_target_free(qp_target *t)
{
    qp_profile_free(t->profile);
    memset(t, 0, sizeof *t);
}

int qp_target_resolve(const char *device, const qp_catalog *cat, const qh_host *h, const qh_cuda *cuda,
                      qp_target *t, qc_msgs *err)
{
    memset(t, 0, sizeof *t);
    t->cuda_index = -1;
    if (!strcmp(device, "host")) {
        t->profile = qp_profile_from_host(h);
        t->local = 1;
        snprintf(t->device_name, sizeof t->device_name, "%s", h->cpu.model);
        return QC_OK;
    }
    int idx;
    if (!strncmp(device, "cuda:", 5) && qc_parse_int(device + 5, 0, 1 << 20, "", &idx, NULL) == QC_OK) {
        if (idx < 0 || idx >= cuda->n) {
            qc_msgs_addf(err, "--device %s: there is no such CUDA device here (%s; 'qbench devices' lists what is here)",
                         device, cuda->n ? "device indices start at cuda:0" : cuda->reason);
            return QC_EINPUT;
        }
        const qh_cuda_device *d = &cuda->dev[idx];
        const qp_profile *known = NULL;
        for (int i = 0; i < cat->n && !known; i++)
            if (cat->v[i].profile && !cat->v[i].shadowed &&
                qp_profile_matches(cat->v[i].profile, QP_BACKEND_CUDA, d->name, d->cc_major, d->cc_minor))
                known = cat->v[i].profile;
        t->profile = known ? qp_profile_copy(known) : qp_profile_from_cuda(d);
        t->local = 1;
        t->cuda_index = idx;
        snprintf(t->device_name, sizeof t->device_name, "%s", d->name);
        return QC_OK;
    }
    const qp_profile *p = qp_catalog_find(cat, device);
    if (!p) {
        char names[512] = "host, cuda:N";
        for (int i = 0; i < cat->n; i++)
            if (cat->v[i].profile && !cat->v[i].shadowed && strcmp(cat->v[i].profile->name, "host"))
                snprintf(names + strlen(names), sizeof names - strlen(names), ", %s", cat->v[i].profile->name);
        qc_msgs_addf(err, "--device %s: no such device or profile (known: %s; 'qbench profile list' shows where "
                          "profiles are searched)", device, names);
        return QC_EINPUT;
    }
    t->profile = qp_profile_copy(p);
    if (p->match.backend == QP_BACKEND_CPU) {
        if (qp_profile_matches(p, QP_BACKEND_CPU, h->cpu.model, -1, -1)) {
            t->local = 1;
            snprintf(t->device_name, sizeof t->device_name, "%s", h->cpu.model);
        }
    } else {
        for (int i = 0; i < cuda->n && !t->local; i++)
            if (qp_profile_matches(p, QP_BACKEND_CUDA, cuda->dev[i].name, cuda->dev[i].cc_major, cuda->dev[i].cc_minor)) {
                t->local = 1;
                t->cuda_index = i;
                snprintf(t->device_name, sizeof t->device_name, "%s", cuda->dev[i].name);
            }
    }
    if (!t->local) {
        char cc[64] = "";
        if (p->match.cc_major >= 0)
            snprintf(cc, sizeof cc, ", compute capability %d.%d", p->match.cc_major, p->match.cc_minor);
        if (p->match.backend == QP_BACKEND_CPU)
            snprintf(t->why, sizeof t->why, "profile %s describes a CPU named \"%s\"; this host is \"%s\"", p->name,
                     p->match.name, h->cpu.model);
        else
            snprintf(t->why, sizeof t->why, "profile %s describes a CUDA device named \"%s\"%s; %s", p->name,
                     p->match.name, cc,
                     cuda->n ? "no local CUDA device matches ('qbench devices' lists them)" : cuda->reason);
    }
    return QC_OK;
}
