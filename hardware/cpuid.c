/* CPU identity and SIMD features from CPUID. A feature counts only when the OS has also
 * enabled its register state (XCR0 through XGETBV), as the kernels' run-time dispatch needs. */
#include <string.h>

#include "hardware/hardware.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const char *const feature_names[QH_FEATURE_COUNT] = {
    [QH_SSE4_2] = "sse4_2",           [QH_AVX] = "avx",
    [QH_AVX2] = "avx2",               [QH_FMA] = "fma",
    [QH_F16C] = "f16c",               [QH_AVX512F] = "avx512f",
    [QH_AVX512CD] = "avx512cd",       [QH_AVX512BW] = "avx512bw",
    [QH_AVX512DQ] = "avx512dq",       [QH_AVX512VL] = "avx512vl",
    [QH_AVX512VBMI] = "avx512vbmi",
    [QH_AVX512_VNNI] = "avx512_vnni", [QH_AVX512_BF16] = "avx512_bf16",
    [QH_AVX512_FP16] = "avx512_fp16", [QH_AVX_VNNI] = "avx_vnni",
    [QH_AMX_TILE] = "amx_tile",       [QH_AMX_INT8] = "amx_int8",
    [QH_AMX_BF16] = "amx_bf16",
};

const char *qh_feature_name(qh_feature f)
{
    return (unsigned)f < QH_FEATURE_COUNT ? feature_names[f] : "?";
}

#if defined(__x86_64__) || defined(__i386__)
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = '\0';
    size_t lead = strspn(s, " ");
    memmove(s, s + lead, n - lead + 1);
}

int qh_cpu_identify(qh_cpu *c)
{
    memset(c, 0, sizeof *c);
    unsigned a, b, cx, d;
    unsigned max = __get_cpuid_max(0, NULL);
    __cpuid(0, a, b, cx, d);
    memcpy(c->vendor + 0, &b, 4);
    memcpy(c->vendor + 4, &d, 4);
    memcpy(c->vendor + 8, &cx, 4);

    __cpuid(1, a, b, cx, d);
    unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
    c->stepping = (int)(a & 0xf);
    c->family = (int)base_family + (base_family == 0xf ? (int)((a >> 20) & 0xff) : 0);
    c->model_id = (int)base_model;
    if (base_family == 0x6 || base_family == 0xf)
        c->model_id += (int)(((a >> 16) & 0xf) << 4);

    uint32_t f = 0;
#define SET(feat, cond)                                                                            \
    do {                                                                                           \
        if (cond)                                                                                  \
            f |= 1u << (feat);                                                                     \
    } while (0)
    int osxsave = (cx >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm = (xcr0 & 0x6) == 0x6;           /* SSE + AVX state */
    int zmm = ymm && (xcr0 & 0xe0) == 0xe0;  /* opmask + ZMM_Hi256 + Hi16_ZMM */
    int amx = (xcr0 & 0x60000) == 0x60000;   /* XTILECFG + XTILEDATA */
    SET(QH_SSE4_2, (cx >> 20) & 1);
    SET(QH_AVX, ymm && ((cx >> 28) & 1));
    SET(QH_FMA, ymm && ((cx >> 12) & 1));
    SET(QH_F16C, ymm && ((cx >> 29) & 1));
    if (max >= 7) {
        unsigned a7, b7, c7, d7;
        __cpuid_count(7, 0, a7, b7, c7, d7);
        SET(QH_AVX2, ymm && ((b7 >> 5) & 1));
        SET(QH_AVX512F, zmm && ((b7 >> 16) & 1));
        SET(QH_AVX512DQ, zmm && ((b7 >> 17) & 1));
        SET(QH_AVX512CD, zmm && ((b7 >> 28) & 1));
        SET(QH_AVX512BW, zmm && ((b7 >> 30) & 1));
        SET(QH_AVX512VL, zmm && ((b7 >> 31) & 1));
        SET(QH_AVX512VBMI, zmm && ((c7 >> 1) & 1));
        SET(QH_AVX512_VNNI, zmm && ((c7 >> 11) & 1));
        SET(QH_AVX512_FP16, zmm && ((d7 >> 23) & 1));
        SET(QH_AMX_BF16, amx && ((d7 >> 22) & 1));
        SET(QH_AMX_TILE, amx && ((d7 >> 24) & 1));
        SET(QH_AMX_INT8, amx && ((d7 >> 25) & 1));
        if (a7 >= 1) {
            unsigned a71, b71, c71, d71;
            __cpuid_count(7, 1, a71, b71, c71, d71);
            SET(QH_AVX_VNNI, ymm && ((a71 >> 4) & 1));
            SET(QH_AVX512_BF16, zmm && ((a71 >> 5) & 1));
        }
    }
#undef SET
    c->features = f;

    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++)
            __cpuid(0x80000002u + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
        memcpy(c->model, r, sizeof r);
        c->model[sizeof r] = '\0';
        trim(c->model);
    }
    if (!c->model[0])
        strcpy(c->model, c->vendor);
    return QC_OK;
}
#else
int qh_cpu_identify(qh_cpu *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->model, "unknown (not x86)");
    return QC_OK;
}
#endif
