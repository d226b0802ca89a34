/* The kernel registry: one designated-initialiser table keyed by an enum, in the style of
 * ggml's type_traits. Adding a kernel = one row here + one file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hardware/hardware.h"
#include "kernels/cuda/qk_cuda.h"
#include "kernels/internal.h"

typedef enum qk_kernel_id {
    QK_K_FP16_GENERIC,
    QK_K_W8A16_GENERIC,
    QK_K_W4A16_GENERIC,
    QK_K_W8A8_GENERIC,
    QK_K_W4A8_GENERIC,
    QK_K_FP8_GENERIC,
    QK_K_FP16_AVX2,
    QK_K_W8A16_AVX2,
    QK_K_W4A16_AVX2,
    QK_K_W8A8_AVX2,
    QK_K_W4A8_AVX2,
    QK_K_FP8_AVX2,
    QK_K_W4A16_AVX512BF16,
    QK_K_W8A8_AVX512VNNI,
    QK_K_W4A8_AVX512VNNI,
    QK_K_W4A16_CUDA,
    QK_K_W8A16_CUDA,
    QK_K_FP16_CUBLASLT,
    QK_K_W8A8_CUBLASLT,
    QK_K_FP8_CUBLASLT,
    QK_K_W4A8_CUDA,
    QK_KERNEL_COUNT
} qk_kernel_id;

#define P_THREADS {"threads", "worker threads (1 .. the machine's hardware threads)", 0, {0}}
#define P_MR {"mr", "rows of X per register tile in the small-M path", 4, {1, 2, 3, 4}}
#define P_KC_F {"kc", "K block of the pre-dequantized path (floats per panel row)", 4, {64, 128, 256, 512}}
#define P_KC_I {"kc", "K block (a multiple of the group size)", 4, {128, 256, 512, 1024}}
#define P_NC {"nc", "N block: output channels a thread works on at once (multiple of 16)", 4, {16, 32, 64, 128}}
#define P_PREDEQ {"predequant", "1: dequantize weight panels to fp32 once per K block (large M)", 2, {0, 1}}

static int check_generic(const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static int check_cuda_wonly(const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static int check_cuda_lt(const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static int check_cuda_w4a8(const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static void defaults_cuda_wonly(const qk_problem *p, qk_config *cfg);
static void defaults_cuda_lt(const qk_problem *p, qk_config *cfg);
static void defaults_cuda_w4a8(const qk_problem *p, qk_config *cfg);
static int check_float_avx2(const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static int check_int_avx2(const qk_problem *p, const qk_config *cfg, char *why, size_t len);
static void defaults_generic(const qk_problem *p, qk_config *cfg);
static void defaults_float_avx2(const qk_problem *p, qk_config *cfg);
static void defaults_int_avx2(const qk_problem *p, qk_config *cfg);

#define AVX2 ((1u << QH_AVX2) | (1u << QH_FMA) | (1u << QH_F16C))
#define GENERIC_FLOAT(s, nm)                                                                                      \
    {.name = nm, .scheme = s, .isa = "generic", .needs = 0, .n_params = 1, .params = {P_THREADS},               \
     .check = check_generic, .workspace = qk_work_float, .run = qk_run_float_generic, .defaults = defaults_generic}
#define GENERIC_INT(s, nm)                                                                                        \
    {.name = nm, .scheme = s, .isa = "generic", .needs = 0, .n_params = 1, .params = {P_THREADS},               \
     .check = check_generic, .workspace = qk_work_int, .run = qk_run_int_generic, .defaults = defaults_generic}
#define AVX2_FLOAT(s, nm)                                                                                         \
    {.name = nm, .scheme = s, .isa = "avx2", .needs = AVX2, .n_params = 5,                                      \
     .params = {P_THREADS, P_MR, P_KC_F, P_NC, P_PREDEQ}, .check = check_float_avx2, .workspace = qk_work_float, \
     .run = qk_run_float_avx2, .defaults = defaults_float_avx2}
#define P_TILE {"tile", "block tile: 0 16x128, 1 32x128, 2 64x128, 3 128x128", 4, {0, 1, 2, 3}}
#define P_STAGES {"stages", "cp.async shared-memory pipeline stages", 3, {2, 3, 4}}
#define P_SPLITK {"splitk", "K split across thread blocks (fp32 partials, then a sum)", 4, {1, 2, 4, 8}}
#define P_ALGO {"algo", "rank in cuBLASLt's heuristic list (0: its first choice)", 8, {0, 1, 2, 3, 4, 5, 6, 7}}
#define P_LTSPLIT {"splitk", "cuBLASLt split-K (0: the algorithm's own)", 4, {0, 1, 2, 4}}
#define P_SWIZZLE {"swizzle", "cuBLASLt CTA swizzling", 2, {0, 1}}
#define P_BLOCK {"block", "threads per block", 3, {64, 128, 256}}
#define CUDA_WONLY(s, nm)                                                                                         \
    {.name = nm, .scheme = s, .isa = "cuda", .needs = QK_NEEDS_CUDA, .n_params = 3,                              \
     .params = {P_TILE, P_STAGES, P_SPLITK}, .check = check_cuda_wonly, .workspace = qk_cuda_wonly_work,        \
     .run = qk_cuda_wonly, .defaults = defaults_cuda_wonly}
#define CUDA_LT(s, nm)                                                                                            \
    {.name = nm, .scheme = s, .isa = "cuda", .needs = QK_NEEDS_CUDA, .n_params = 3,                              \
     .params = {P_ALGO, P_LTSPLIT, P_SWIZZLE}, .check = check_cuda_lt, .workspace = qk_cuda_lt_work,            \
     .run = qk_cuda_lt, .defaults = defaults_cuda_lt}
#define AVX512 (AVX2 | (1u << QH_AVX512F) | (1u << QH_AVX512BW) | (1u << QH_AVX512VL))
#define VNNI_INT(s, nm)                                                                                           \
    {.name = nm, .scheme = s, .isa = "avx512vnni", .needs = AVX512 | (1u << QH_AVX512_VNNI), .n_params = 4,      \
     .params = {P_THREADS, P_MR, P_KC_I, P_NC}, .check = check_int_avx2, .workspace = qk_work_int,                \
     .run = qk_run_int_vnni, .defaults = defaults_int_avx2}
#define AVX2_INT(s, nm)                                                                                           \
    {.name = nm, .scheme = s, .isa = "avx2", .needs = AVX2, .n_params = 4, .params = {P_THREADS, P_MR, P_KC_I, P_NC}, \
     .check = check_int_avx2, .workspace = qk_work_int, .run = qk_run_int_avx2, .defaults = defaults_int_avx2}

static const qk_kernel table[QK_KERNEL_COUNT] = {
    [QK_K_FP16_GENERIC] = GENERIC_FLOAT(QK_FP16, "fp16.generic"),
    [QK_K_W8A16_GENERIC] = GENERIC_FLOAT(QK_W8A16, "w8a16.generic"),
    [QK_K_W4A16_GENERIC] = GENERIC_FLOAT(QK_W4A16, "w4a16.generic"),
    [QK_K_W8A8_GENERIC] = GENERIC_INT(QK_W8A8, "w8a8.generic"),
    [QK_K_W4A8_GENERIC] = GENERIC_INT(QK_W4A8, "w4a8.generic"),
    [QK_K_FP8_GENERIC] = GENERIC_FLOAT(QK_FP8, "fp8.generic"),
    [QK_K_FP16_AVX2] = AVX2_FLOAT(QK_FP16, "fp16.avx2"),
    [QK_K_W8A16_AVX2] = AVX2_FLOAT(QK_W8A16, "w8a16.avx2"),
    [QK_K_W4A16_AVX2] = AVX2_FLOAT(QK_W4A16, "w4a16.avx2"),
    [QK_K_W8A8_AVX2] = AVX2_INT(QK_W8A8, "w8a8.avx2"),
    [QK_K_W4A8_AVX2] = AVX2_INT(QK_W4A8, "w4a8.avx2"),
    [QK_K_FP8_AVX2] = AVX2_FLOAT(QK_FP8, "fp8.avx2"),
    [QK_K_W4A16_AVX512BF16] = {.name = "w4a16.avx512bf16", .scheme = QK_W4A16, .isa = "avx512bf16",
                               .needs = AVX512 | (1u << QH_AVX512_BF16),
                               .n_params = 5, .params = {P_THREADS, P_MR, P_KC_F, P_NC, P_PREDEQ},
                               .check = check_float_avx2, .workspace = qk_work_w4a16_bf16,
                               .run = qk_run_w4a16_bf16, .defaults = defaults_float_avx2},
    [QK_K_W8A8_AVX512VNNI] = VNNI_INT(QK_W8A8, "w8a8.avx512vnni"),
    [QK_K_W4A8_AVX512VNNI] = VNNI_INT(QK_W4A8, "w4a8.avx512vnni"),
    [QK_K_W4A16_CUDA] = CUDA_WONLY(QK_W4A16, "w4a16.cuda"),
    [QK_K_W8A16_CUDA] = CUDA_WONLY(QK_W8A16, "w8a16.cuda"),
    [QK_K_FP16_CUBLASLT] = CUDA_LT(QK_FP16, "fp16.cublaslt"),
    [QK_K_W8A8_CUBLASLT] = CUDA_LT(QK_W8A8, "w8a8.cublaslt"),
    [QK_K_FP8_CUBLASLT] = CUDA_LT(QK_FP8, "fp8.cublaslt"),
    [QK_K_W4A8_CUDA] = {.name = "w4a8.cuda", .scheme = QK_W4A8, .isa = "cuda", .needs = QK_NEEDS_CUDA, .n_params = 1,
                        .params = {P_BLOCK}, .check = check_cuda_w4a8, .workspace = qk_cuda_w4a8_work,
                        .run = qk_cuda_w4a8, .defaults = defaults_cuda_w4a8},
};

int qk_kernel_count(void) { return QK_KERNEL_COUNT; }
const qk_kernel *qk_kernel_get(int i) { return i >= 0 && i < QK_KERNEL_COUNT ? &table[i] : NULL; }

const qk_kernel *qk_kernel_find(const char *name)
{
    for (int i = 0; i < QK_KERNEL_COUNT; i++)
        if (!strcmp(table[i].name, name))
            return &table[i];
    return NULL;
}

static uint32_t cpu_features(void)
{
    static int done;
    static uint32_t features;
    if (!done) {
        qh_cpu c;
        qh_cpu_identify(&c);
        features = c.features;
        done = 1;
    }
    return features;
}

static int cuda_here(void)
{
    static int known, here;
    if (!known) {
        char why[256];
        here = qk_cuda_available(why, sizeof why);
        known = 1;
    }
    return here;
}

int qk_kernel_is_cuda(const qk_kernel *k) { return (k->needs & QK_NEEDS_CUDA) != 0; }

int qk_cuda_available_here(char *why, size_t len) { return qk_cuda_available(why, len); }

int qk_kernel_supported(const qk_kernel *k)
{
    if (qk_kernel_is_cuda(k))
        return cuda_here();
    return (cpu_features() & k->needs) == k->needs;
}

static const qk_kernel *best_of(qk_scheme s, int cuda)
{
    /* the most specialised kernel this machine runs: the one needing the most features */
    const qk_kernel *best = NULL;
    for (int i = 0; i < QK_KERNEL_COUNT; i++)
        if (table[i].scheme == s && qk_kernel_is_cuda(&table[i]) == cuda && qk_kernel_supported(&table[i]) &&
            (!best || __builtin_popcount(table[i].needs) > __builtin_popcount(best->needs)))
            best = &table[i];
    return best;
}

const qk_kernel *qk_kernel_best(qk_scheme s) { return best_of(s, 0); }
const qk_kernel *qk_kernel_best_cuda(qk_scheme s) { return best_of(s, 1); }

int qk_param_index(const qk_kernel *k, const char *name)
{
    for (int i = 0; i < k->n_params; i++)
        if (!strcmp(k->params[i].name, name))
            return i;
    return -1;
}

static int hw_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ---- validity of configurations ---- */

static int check_threads(const qk_config *cfg, char *why, size_t len)
{
    int t = cfg->v[QK_P_THREADS];
    if (t < 1 || t > 4 * hw_threads()) {
        snprintf(why, len, "threads=%d: use 1 .. %d (this machine has %d hardware threads)", t, 4 * hw_threads(),
                 hw_threads());
        return QC_EINPUT;
    }
    return QC_OK;
}

static int check_generic(const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    (void)p;
    return check_threads(cfg, why, len);
}

static int check_float_avx2(const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    (void)p;
    if (check_threads(cfg, why, len))
        return QC_EINPUT;
    const int *v = cfg->v;
    if (v[QK_P_MR] < 1 || v[QK_P_MR] > 4)
        snprintf(why, len, "mr=%d: the small-M register tile holds 1 to 4 rows", v[QK_P_MR]);
    else if (v[QK_P_KC] < 16 || v[QK_P_KC] > 4096 || v[QK_P_KC] % 16)
        snprintf(why, len, "kc=%d: use a multiple of 16 from 16 to 4096", v[QK_P_KC]);
    else if (v[QK_P_NC] < 16 || v[QK_P_NC] > 1024 || v[QK_P_NC] % 16)
        snprintf(why, len, "nc=%d: use a multiple of 16 from 16 to 1024", v[QK_P_NC]);
    else if (v[QK_P_PREDEQUANT] != 0 && v[QK_P_PREDEQUANT] != 1)
        snprintf(why, len, "predequant=%d: use 0 or 1", v[QK_P_PREDEQUANT]);
    else
        return QC_OK;
    return QC_EINPUT;
}

static int check_int_avx2(const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    if (check_threads(cfg, why, len))
        return QC_EINPUT;
    const int *v = cfg->v;
    int g = qk_problem_group(p);
    if (p->k > 65536)
        snprintf(why, len, "K=%d: int32 accumulators hold at most K = 65536 products of int8 (split K)", p->k);
    else if (v[QK_P_MR] < 1 || v[QK_P_MR] > 4)
        snprintf(why, len, "mr=%d: the register tile holds 1 to 4 rows", v[QK_P_MR]);
    else if (v[QK_P_KC] < 8 || v[QK_P_KC] > 1 << 20 || v[QK_P_KC] % 8)
        snprintf(why, len, "kc=%d: use a multiple of 8", v[QK_P_KC]);
    else if (p->scheme == QK_W4A8 && g < p->k && v[QK_P_KC] % g)
        snprintf(why, len, "kc=%d is not a multiple of the group size %d (a K block must hold whole groups)",
                 v[QK_P_KC], g);
    else if (v[QK_P_NC] < 16 || v[QK_P_NC] > 1024 || v[QK_P_NC] % 16)
        snprintf(why, len, "nc=%d: use a multiple of 16 from 16 to 1024", v[QK_P_NC]);
    else
        return QC_OK;
    return QC_EINPUT;
}

static int check_cuda_wonly(const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    const int *v = cfg->v, g = qk_problem_group(p);
    if (p->k % 64 || p->n % 4)
        snprintf(why, len, "the tensor-core kernel needs K %% 64 == 0 and N %% 4 == 0 (K=%d, N=%d)", p->k, p->n);
    else if (p->scheme == QK_W4A16 && g % 16)
        snprintf(why, len, "group %d: the tensor-core kernel needs groups of a multiple of 16", g);
    else if (v[QK_CUDA_P_TILE] < 0 || v[QK_CUDA_P_TILE] > 3)
        snprintf(why, len, "tile=%d: use 0 (16x128), 1 (32x128), 2 (64x128) or 3 (128x128)", v[QK_CUDA_P_TILE]);
    else if (v[QK_CUDA_P_STAGES] < 2 || v[QK_CUDA_P_STAGES] > 4)
        snprintf(why, len, "stages=%d: use 2, 3 or 4", v[QK_CUDA_P_STAGES]);
    else if (v[QK_CUDA_P_SPLITK] < 1 || v[QK_CUDA_P_SPLITK] > p->k / 64)
        snprintf(why, len, "splitk=%d: use 1 .. K/64 = %d", v[QK_CUDA_P_SPLITK], p->k / 64);
    else
        return QC_OK;
    return QC_EINPUT;
}

static int check_cuda_lt(const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    const int *v = cfg->v;
    if ((p->scheme == QK_W8A8 || p->scheme == QK_FP8) && (p->k % 16 || p->n % 16))
        snprintf(why, len, "cuBLASLt's int8 and fp8 products need K and N multiples of 16 (K=%d, N=%d)", p->k, p->n);
    else if (v[QK_CUDA_P_ALGO] < 0 || v[QK_CUDA_P_ALGO] > 7)
        snprintf(why, len, "algo=%d: a rank 0 .. 7 in cuBLASLt's heuristic list", v[QK_CUDA_P_ALGO]);
    else if (v[QK_CUDA_P_LT_SPLITK] < 0 || v[QK_CUDA_P_LT_SPLITK] > 64)
        snprintf(why, len, "splitk=%d: 0 (the algorithm's own) .. 64", v[QK_CUDA_P_LT_SPLITK]);
    else if (v[QK_CUDA_P_SWIZZLE] != 0 && v[QK_CUDA_P_SWIZZLE] != 1)
        snprintf(why, len, "swizzle=%d: use 0 or 1", v[QK_CUDA_P_SWIZZLE]);
    else
        return QC_OK; /* what cuBLASLt itself refuses is reported when the plan is made */
    return QC_EINPUT;
}

static int check_cuda_w4a8(const qk_problem *p, const qk_config *cfg, char *why, size_t len)
{
    (void)p;
    int b = cfg->v[QK_CUDA_P_BLOCK];
    if (b < 32 || b > 1024 || b % 32) {
        snprintf(why, len, "block=%d: a multiple of 32 up to 1024", b);
        return QC_EINPUT;
    }
    return QC_OK;
}

static void defaults_cuda_wonly(const qk_problem *p, qk_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->v[QK_CUDA_P_TILE] = p->m <= 16 ? 0 : p->m <= 32 ? 1 : p->m <= 64 ? 2 : 3;
    cfg->v[QK_CUDA_P_STAGES] = 3;
    /* small M leaves most SMs idle without a K split */
    cfg->v[QK_CUDA_P_SPLITK] = p->m <= 32 && p->k >= 1024 ? 4 : 1;
}

static void defaults_cuda_lt(const qk_problem *p, qk_config *cfg)
{
    (void)p;
    memset(cfg, 0, sizeof *cfg); /* cuBLASLt's first choice as it is */
}

static void defaults_cuda_w4a8(const qk_problem *p, qk_config *cfg)
{
    (void)p;
    memset(cfg, 0, sizeof *cfg);
    cfg->v[QK_CUDA_P_BLOCK] = 128;
}

/* ---- defaults: a reasonable configuration before any tuning ---- */

static void defaults_generic(const qk_problem *p, qk_config *cfg)
{
    (void)p;
    memset(cfg, 0, sizeof *cfg);
    cfg->v[QK_P_THREADS] = hw_threads();
}

static void defaults_float_avx2(const qk_problem *p, qk_config *cfg)
{
    defaults_generic(p, cfg);
    cfg->v[QK_P_MR] = p->m < 4 ? (p->m > 0 ? p->m : 1) : 4;
    cfg->v[QK_P_KC] = 256;
    cfg->v[QK_P_NC] = 64;
    cfg->v[QK_P_PREDEQUANT] = p->m >= 8;
}

static void defaults_int_avx2(const qk_problem *p, qk_config *cfg)
{
    defaults_generic(p, cfg);
    int g = qk_problem_group(p);
    cfg->v[QK_P_MR] = p->m < 4 ? (p->m > 0 ? p->m : 1) : 4;
    cfg->v[QK_P_KC] = p->scheme == QK_W4A8 && g < p->k ? (g >= 512 ? g : 512 / g * g) : 512;
    cfg->v[QK_P_NC] = 64;
}

int qk_param_values(const qk_kernel *k, int i, int *out, int max)
{
    const qk_param *pp = &k->params[i];
    int n = 0;
    if (pp->n_values == 0) { /* threads: powers of two up to the machine, and the machine */
        for (int t = 1; t < hw_threads() && n < max; t *= 2)
            out[n++] = t;
        if (n < max)
            out[n++] = hw_threads();
        return n;
    }
    for (; n < pp->n_values && n < max; n++)
        out[n] = pp->values[n];
    return n;
}

/* ---- configuration text ---- */

int qk_config_parse(const qk_kernel *k, const qk_problem *p, const char *text, qk_config *cfg, qc_msgs *err)
{
    k->defaults(p, cfg);
    if (text && *text && strcmp(text, "default") != 0) {
        char *copy = strdup(text), *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(item, '=');
            char *end = NULL;
            long v = eq ? strtol(eq + 1, &end, 10) : 0;
            if (!eq || end == eq + 1 || *end) {
                qc_msgs_addf(err, "--config '%s': expected name=integer such as mr=4 (parameters of %s: see "
                                  "'qbench kernels')", item, k->name);
                free(copy);
                return QC_EINPUT;
            }
            *eq = '\0';
            int i = qk_param_index(k, item);
            if (i < 0) {
                char names[128] = "";
                for (int j = 0; j < k->n_params; j++)
                    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", j ? ", " : "",
                             k->params[j].name);
                qc_msgs_addf(err, "--config: %s has no parameter '%s' (it has: %s)", k->name, item, names);
                free(copy);
                return QC_EINPUT;
            }
            cfg->v[i] = (int)v;
        }
        free(copy);
    }
    char why[256];
    if (k->check(p, cfg, why, sizeof why)) {
        qc_msgs_addf(err, "%s: invalid configuration: %s", k->name, why);
        return QC_EINPUT;
    }
    return QC_OK;
}

void qk_config_format(const qk_kernel *k, const qk_config *cfg, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < k->n_params; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s=%d", i ? "," : "", k->params[i].name, cfg->v[i]);
}

int qk_gemm(const qk_kernel *k, const qk_config *cfg, const qk_weights *w, const uint16_t *x, int m, void *y,
            void *work, qc_msgs *err)
{
    qk_problem p = w->p;
    p.m = m;
    char why[256];
    if (k->scheme != p.scheme) {
        qc_msgs_addf(err, "%s computes %s, the weights are packed for %s", k->name, qk_scheme_name(k->scheme),
                     qk_scheme_name(p.scheme));
        return QC_EINPUT;
    }
    if (qk_problem_check(&p, err))
        return QC_EINPUT;
    if (qk_kernel_is_cuda(k)) {
        qc_msgs_addf(err, "%s is a CUDA kernel: run it with qk_gemm_cuda on device buffers", k->name);
        return QC_EINPUT;
    }
    if (!qk_kernel_supported(k)) {
        qc_msgs_addf(err, "%s needs CPU features this machine lacks (see 'qbench devices')", k->name);
        return QC_EINPUT;
    }
    if (k->check(&p, cfg, why, sizeof why)) {
        qc_msgs_addf(err, "%s: invalid configuration: %s", k->name, why);
        return QC_EINPUT;
    }
    qk_run_args a = {.w = w, .x = x, .m = m, .y = y, .work = work, .cfg = cfg};
    k->run(&a);
    return QC_OK;
}

int qk_gemm_cuda(const qk_kernel *k, const qk_config *cfg, const qk_weights *w, const uint16_t *x, int m, void *y,
                 void *work, void *stream, qc_msgs *err)
{
    qk_problem p = w->p;
    p.m = m;
    char why[512];
    if (!qk_kernel_is_cuda(k) || !w->on_device) {
        qc_msgs_addf(err, "%s: qk_gemm_cuda takes a CUDA kernel and weights on the device", k->name);
        return QC_EINPUT;
    }
    if (k->check(&p, cfg, why, sizeof why)) {
        qc_msgs_addf(err, "%s: invalid configuration: %s", k->name, why);
        return QC_EINPUT;
    }
    qk_run_args a = {.w = w, .x = x, .m = m, .y = y, .work = work, .cfg = cfg, .stream = stream};
    k->run(&a);
    if (qk_cuda_error(why, sizeof why)) {
        qc_msgs_addf(err, "%s: %s", k->name, why);
        return QC_ERUNTIME;
    }
    return QC_OK;
}
