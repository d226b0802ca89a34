/* Host topology through hwloc: packages, cores, threads, caches, NUMA memory. */
#include <hwloc.h>
#include <string.h>
#include <unistd.h>

#include "hardware/hardware.h"

static int count(hwloc_topology_t t, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(t, type);
    return n > 0 ? n : 0;
}

static void add_cache(qh_host *h, hwloc_topology_t t, hwloc_obj_type_t type, int level)
{
    int n = count(t, type);
    if (n == 0 || h->n_caches == QH_MAX_CACHES)
        return;
    hwloc_obj_t o = hwloc_get_obj_by_type(t, type, 0);
    qh_cache *c = &h->caches[h->n_caches++];
    c->level = level;
    c->kind = type == HWLOC_OBJ_L1ICACHE                      ? 'i'
              : o->attr->cache.type == HWLOC_OBJ_CACHE_DATA ? 'd'
                                                            : 'u';
    c->size = o->attr->cache.size;
    c->line_size = o->attr->cache.linesize;
    c->instances = n;
    c->threads_sharing = o->cpuset ? hwloc_bitmap_weight(o->cpuset) : 1;
}

int qh_host_discover(qh_host *h, qc_msgs *err)
{
    memset(h, 0, sizeof *h);
    if (gethostname(h->hostname, sizeof h->hostname - 1) != 0)
        strcpy(h->hostname, "unknown");
    snprintf(h->hwloc_version, sizeof h->hwloc_version, "%s", HWLOC_VERSION);
    qh_cpu_identify(&h->cpu);

    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0 || hwloc_topology_load(t) != 0) {
        qc_msgs_addf(err, "hwloc could not read this machine's topology (is /sys mounted?)");
        return QC_ERUNTIME;
    }
    h->packages = count(t, HWLOC_OBJ_PACKAGE);
    h->cores = count(t, HWLOC_OBJ_CORE);
    h->threads = count(t, HWLOC_OBJ_PU);
    static const struct { hwloc_obj_type_t type; int level; } levels[] = {
        {HWLOC_OBJ_L1ICACHE, 1}, {HWLOC_OBJ_L1CACHE, 1}, {HWLOC_OBJ_L2CACHE, 2},
        {HWLOC_OBJ_L3CACHE, 3},  {HWLOC_OBJ_L4CACHE, 4}, {HWLOC_OBJ_L5CACHE, 5},
    };
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        add_cache(h, t, levels[i].type, levels[i].level);
    h->numa_nodes = count(t, HWLOC_OBJ_NUMANODE);
    for (int i = 0; i < h->numa_nodes; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)i);
        uint64_t m = o ? o->attr->numanode.local_memory : 0;
        if (i < QH_MAX_NUMA)
            h->numa_memory[i] = m;
        h->numa_memory_total += m;
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    h->memory = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : h->numa_memory_total;
    hwloc_topology_destroy(t);
    if (h->cores == 0 || h->threads == 0) {
        qc_msgs_addf(err, "hwloc found no cores on this machine (the topology is unusable)");
        return QC_ERUNTIME;
    }
    return QC_OK;
}

const qh_cache *qh_host_cache(const qh_host *h, int level)
{
    for (int i = 0; i < h->n_caches; i++)
        if (h->caches[i].level == level && h->caches[i].kind != 'i')
            return &h->caches[i];
    return NULL;
}

double qh_host_llc_bytes(const qh_host *h)
{
    double llc = 0; /* caches are ordered by level: the last data cache wins */
    for (int i = 0; i < h->n_caches; i++)
        if (h->caches[i].kind != 'i')
            llc = (double)h->caches[i].size * h->caches[i].instances;
    return llc;
}
