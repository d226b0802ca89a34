/* hardware/: what the machine is. Host topology through hwloc, CPU identity and SIMD
 * features through CPUID, CUDA devices through the CUDA runtime (when built with CUDA).
 * Knows nothing about GEMM schemes. Every call returns a status (common/qc.h). */
#ifndef QBENCH_HARDWARE_H
#define QBENCH_HARDWARE_H

#include <stdint.h>

#include "common/qc.h"

/* ---- CPU identity and features (CPUID, checked against the OS-enabled state in XCR0) ---- */
typedef enum qh_feature {
    QH_SSE4_2,
    QH_AVX,
    QH_AVX2,
    QH_FMA,
    QH_F16C,
    QH_AVX512F,
    QH_AVX512CD,
    QH_AVX512BW,
    QH_AVX512DQ,
    QH_AVX512VL,
    QH_AVX512VBMI,
    QH_AVX512_VNNI,
    QH_AVX512_BF16,
    QH_AVX512_FP16,
    QH_AVX_VNNI,
    QH_AMX_TILE,
    QH_AMX_INT8,
    QH_AMX_BF16,
    QH_FEATURE_COUNT
} qh_feature;

/* The feature's name as Linux prints it in /proc/cpuinfo ("avx512_vnni"). */
const char *qh_feature_name(qh_feature f);

typedef struct qh_cpu {
    char vendor[13];   /* "AuthenticAMD", "GenuineIntel"; "" when not x86 */
    char model[64];    /* brand string, trimmed */
    int family, model_id, stepping;
    uint32_t features; /* bit (1u << qh_feature) */
} qh_cpu;

int qh_cpu_identify(qh_cpu *out);
static inline int qh_cpu_has(const qh_cpu *c, qh_feature f) { return (c->features >> f) & 1u; }

/* ---- host topology (hwloc) ---- */
enum { QH_MAX_CACHES = 8, QH_MAX_NUMA = 64 };

typedef struct qh_cache {
    int level;            /* 1, 2, 3, ... */
    char kind;            /* 'd' data, 'i' instruction, 'u' unified */
    uint64_t size;        /* bytes, per instance */
    unsigned line_size;   /* bytes */
    int instances;
    int threads_sharing;  /* hardware threads sharing one instance */
} qh_cache;

typedef struct qh_host {
    char hostname[256];
    char hwloc_version[32];
    qh_cpu cpu;
    int packages, cores, threads;
    qh_cache caches[QH_MAX_CACHES];
    int n_caches;          /* ordered by level, instruction before data */
    int numa_nodes;
    uint64_t numa_memory[QH_MAX_NUMA]; /* bytes, local to each node (hwloc) */
    uint64_t numa_memory_total;        /* bytes, all nodes; a VM may attach less than it has */
    uint64_t memory;       /* bytes of physical memory (sysconf) */
} qh_host;

int qh_host_discover(qh_host *out, qc_msgs *err);
/* The data (or unified) cache of a level, NULL when the machine has none. */
const qh_cache *qh_host_cache(const qh_host *h, int level);
/* Bytes of the last data (or unified) cache level, all instances together; 0 when none. */
double qh_host_llc_bytes(const qh_host *h);

/* ---- CUDA devices (CUDA runtime; "no device" is a normal answer) ---- */
typedef struct qh_cuda_device {
    int index;
    char name[256];
    int cc_major, cc_minor;
    int sms;
    uint64_t memory;        /* bytes */
    uint64_t l2_size;       /* bytes */
    int clock_khz;          /* peak SM clock */
    int mem_clock_khz;      /* peak memory clock */
    int bus_width;          /* bits */
    double bandwidth_gbs;   /* theoretical: 2 (DDR) x memory clock x bus width */
} qh_cuda_device;

enum { QH_MAX_CUDA_DEVICES = 16 };

typedef struct qh_cuda {
    int built;              /* qbench was built with the CUDA backend */
    int n;                  /* devices found */
    qh_cuda_device dev[QH_MAX_CUDA_DEVICES];
    char reason[256];       /* why n == 0 ("built without CUDA", "no CUDA-capable device", ...) */
} qh_cuda;

/* Fills out; n == 0 with a reason when there is no usable device. Always QC_OK. The fake list
 * of QBENCH_FAKE_CUDA_DEVICES, when set, stands for the real devices (hardware/cuda_fake.c). */
int qh_cuda_discover(qh_cuda *out);
/* For tests of what spans GPUs, on a machine without one: QBENCH_FAKE_CUDA_DEVICES =
 * "NAME@MAJOR.MINOR;..." (filtered by CUDA_VISIBLE_DEVICES) into out; 0 when it is not set. */
int qh_cuda_fake(qh_cuda *out);

#endif
